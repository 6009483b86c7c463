"""The node-held-key path: prepare an action, sign it with a key this node holds, submit it.

One sequence for every "sign for me" route (forwarded actions, custody proposals, settlements): the
node signs exactly what a wallet would sign after /prepare, and the signed message goes through the
same checks as one submitted from outside.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from eth_account.signers.local import LocalAccount

from .. import signing

Prepare = Callable[[], Awaitable[dict[str, Any]]]
#: submit(typed data, 0x-signature) -> the answer
Submit = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]
#: submit(typed data, 0x-signature, idempotency op key) -> the answer
SubmitAs = Callable[[dict[str, Any], str, str | None], Awaitable[dict[str, Any]]]


async def sign_and_submit(wallet: LocalAccount, prepare: Prepare, submit: Submit) -> dict[str, Any]:
    prepared = await prepare()
    typed = prepared["typedData"]
    return await submit(typed, "0x" + signing.sign_typed(wallet.key, typed).hex())
