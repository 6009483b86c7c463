"""Mass-balance credit accounts: moving credits within a conversion-factor group, rolling periods."""

from __future__ import annotations

from .base import U32, U256, Bytes32, ForwardAction, Params

MB = "MassBalance"


class MoveCredits(Params):
    fromMaterial: U32
    toMaterial: U32
    characteristic: U32
    amount: U256


class Roll(Params):
    account: Bytes32


ACTIONS = [
    ForwardAction("mass-balance", "move-credits", MB, "moveCredits", MoveCredits,
                  lambda p: (p.fromMaterial, p.toMaterial, p.characteristic, p.amount),
                  "Move the signer's site credits between materials of one group", "supplier"),
    ForwardAction("mass-balance", "roll", MB, "roll", Roll, lambda p: (p.account,),
                  "Bring an account up to the current period, closing ended periods", "anyone registered"),
]
