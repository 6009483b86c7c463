"""Gas of every ledger operation next to a bare OpenZeppelin ERC-1155, measured in one run.

Starts a throwaway Anvil, deploys the ledger and BareERC1155 (contracts/test/), registers the
textile consortium of testkit.sandbox and measures each operation's gasUsed from its receipt.
"Warm" means the steady state of a running supply chain: the receiver already holds some of the
batch, the sender has signed before, both credit accounts have moved in the current period. The
targets of issue 2 are checked as ratios against the bare ERC-1155 measured in the same run.

    python scripts/bench_gas.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from node_api.core.anvil import ANVIL_MNEMONIC, EmbeddedAnvil  # noqa: E402
from node_api.core.chain import connect, deploy_contract, send_tx  # noqa: E402
from node_api.core.compile import compile_contracts  # noqa: E402
from node_api.core.config import Settings  # noqa: E402
from node_api.core.deploy import SHORT_NAMES, deploy_all  # noqa: E402
from testkit.sandbox import (  # noqa: E402
    MASS_BALANCE,
    SEGREGATED,
    Contracts,
    Sandbox,
    build_world,
    h,
)
from node_api.signing import forward_request_typed_data, sign_typed  # noqa: E402

Account.enable_unaudited_hdwallet_features()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    accounts = [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(20)]
    node = EmbeddedAnvil.throwaway(accounts=20).start()
    try:
        rows, checks = measure(node.url, accounts)
        more_rows, more_checks = measure_batching(node.url, accounts, rows)
        rows, checks = rows + more_rows, checks + more_checks
    finally:
        node.stop()

    if args.json:
        print(json.dumps({"operations": rows, "targets": checks}, indent=2))
    else:
        print("| operation | gas | x bare warm transfer |")
        print("|---|---:|---:|")
        bare_warm = next(r["gas"] for r in rows if r["operation"] == "bare ERC-1155 safeTransferFrom, warm")
        for r in rows:
            print(f"| {r['operation']} | {r['gas']:,} | {r['gas'] / bare_warm:.2f} |")
        print()
        print("| target | measured | limit | result |")
        print("|---|---:|---:|---|")
        for c in checks:
            print(f"| {c['target']} | {c['measured']} | {c['limit']} | {'PASS' if c['ok'] else 'FAIL'} |")
    return 0 if all(c["ok"] for c in checks) else 1


def measure(url: str, accounts: list) -> tuple[list[dict], list[dict]]:
    w3 = connect(Settings(), rpc_url=url)
    artifacts = compile_contracts()
    addresses = deploy_all(w3, accounts[0], artifacts)
    at = {short: w3.eth.contract(address=addresses[full], abi=artifacts[full]["abi"]) for full, short in SHORT_NAMES.items()}
    c = Contracts(at["registry"], at["forwarder"], at["mass_balance"], at["ledger"], at["certificates"])
    sb = Sandbox(w3, c, accounts[0], accounts[19])
    w = build_world(sb, accounts)
    rows: list[dict] = []

    def gas(label: str, receipt) -> int:
        rows.append({"operation": label, "gas": int(receipt["gasUsed"])})
        return int(receipt["gasUsed"])

    # --- bare OpenZeppelin ERC-1155, same chain, same run
    bare = deploy_contract(w3, artifacts["BareERC1155"], accounts[0])
    a, b = accounts[10], accounts[11]
    gas("bare ERC-1155 mint, new id", send_tx(w3, bare.functions.mint(a.address, 1, 10**9), a))
    gas("bare ERC-1155 safeTransferFrom, new holder",
        send_tx(w3, bare.functions.safeTransferFrom(a.address, b.address, 1, 10, b""), a))
    bare_warm = gas("bare ERC-1155 safeTransferFrom, warm",
                    send_tx(w3, bare.functions.safeTransferFrom(a.address, b.address, 1, 10, b""), a))

    # --- origin creation
    ledger = c.ledger
    origin = sb.origin_params(w.farm, w.raw_cotton, 10**10, characteristic=w.organic, model=SEGREGATED)
    gas("createOrigin, segregated", sb.tx(ledger.functions.createOrigin(origin), w.farm))
    seg = sb.events(sb.tx(ledger.functions.createOrigin(origin[:7] + (sb.next_evidence(),) + origin[8:]), w.farm),
                    ledger, "BatchCreated")[0]["batchId"]
    mb_params = sb.origin_params(w.farm, w.raw_cotton, 10**10, characteristic=w.organic, model=MASS_BALANCE)
    r = sb.tx(ledger.functions.createOrigin(mb_params), w.farm)
    gas("createOrigin, mass balance (credits booked)", r)
    mb = sb.events(r, ledger, "BatchCreated")[0]["batchId"]

    # --- custody, one transaction with both signatures
    def one_tx(sender, receiver, batch, qty, certified=0):
        t = sb.offer(sender, receiver, batch, qty, certified=certified)
        deadline = sb.now() + 3600
        fn = ledger.functions.transferWithAcceptance(
            t.as_tuple(), sb.sign_offer(sender, t), deadline, sb.sign_accept(receiver, t, deadline))
        return sb.tx(fn, sb.relayer)

    gas("signed custody transfer (both signatures), segregated, new holder", one_tx(w.farm, w.ginner, seg, 1000))
    seg_warm = gas("signed custody transfer (both signatures), segregated, warm", one_tx(w.farm, w.ginner, seg, 1000))
    gas("signed mass-balance delivery with declaration, first in period", one_tx(w.farm, w.ginner, mb, 1000, 800))
    mb_warm = gas("signed mass-balance delivery with declaration, warm", one_tx(w.farm, w.ginner, mb, 1000, 800))

    # --- custody, two steps
    def two_step(settle: str):
        t = sb.offer(w.farm, w.ginner, seg, 500)
        r1 = sb.tx(ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(w.farm, t)), sb.relayer)
        deadline = sb.now() + 3600
        if settle == "accept":
            fn = ledger.functions.acceptTransfer(t.as_tuple(), deadline, sb.sign_accept(w.ginner, t, deadline))
        elif settle == "reject":
            fn = ledger.functions.rejectTransfer(t.as_tuple(), deadline, sb.sign_reject(w.ginner, t, deadline))
        else:
            fn = ledger.functions.cancelTransfer(t.as_tuple(), deadline, sb.sign_cancel(w.farm, t, deadline))
        return r1, sb.tx(fn, sb.relayer)

    two_step("accept")
    r1, r2 = two_step("accept")
    gas("proposeTransfer (in transit), segregated, warm", r1)
    gas("acceptTransfer, segregated, warm", r2)
    gas("rejectTransfer", two_step("reject")[1])
    gas("cancelTransfer", two_step("cancel")[1])

    # --- split, merge, transform, consume
    gas("split into 2", sb.tx(ledger.functions.split(seg, [1000, 1000]), w.farm))
    kids = sb.split(w.farm, seg, [1000, 1000])
    gas("merge 2, segregated", sb.tx(ledger.functions.merge(kids, [1000, 1000], SEGREGATED), w.farm))
    gas("transform (ginning), segregated",
        sb.tx(ledger.functions.transform(w.ginning, [seg], [1_000_000], 340_000, SEGREGATED, 0), w.farm))
    gas("transform (ginning), mass balance with credit conversion",
        sb.tx(ledger.functions.transform(w.ginning, [mb], [1_000_000], 340_000, MASS_BALANCE, 500_000), w.farm))
    gas("consume", sb.tx(ledger.functions.consume(seg, 1000, 0, h("sale")), w.farm))

    pledge = sb.tx(c.certificates.functions.pledgeCredits(w.raw_cotton, w.organic, 2_000_000), w.farm)
    gas("pledgeCredits (credits leave the physical chain)", pledge)

    # --- book & claim
    certificates = c.certificates

    def issue_params(to, amount):
        now = sb.now()
        return (w.farm.participant_id, to.address, amount, 1_000_000, "1 t", w.raw_cotton, w.organic,
                now - 86_400 * 30, now, sb.next_evidence("production"), 0)

    gas("certificate issue (first)", sb.tx(certificates.functions.issue(issue_params(w.brand, 100)), w.issuer))
    r = sb.tx(certificates.functions.issue(issue_params(w.brand, 100)), w.issuer)
    issue_gas = gas("certificate issue", r)
    cert = sb.events(r, certificates, "CertificatesIssued")[0]["certificateId"]
    gas("certificate transfer (safeTransferFrom)",
        sb.tx(certificates.functions.safeTransferFrom(w.brand.address, w.spinner.address, cert, 5, b""), w.brand))
    now = sb.now()
    retire = certificates.functions.retire(cert, 1, "Brand Ltd", now - 86_400, now, h("purpose"))
    gas("certificate retire (first retirement of an issuance)", sb.tx(retire, w.brand))
    claim_gas = gas("certificate retire (claim)", sb.tx(retire, w.brand))
    gas("certificate revoke", sb.tx(certificates.functions.revoke(cert, h("fraud")), w.issuer))

    # --- any action, relayed through the ERC-2771 forwarder
    forwarder = c.forwarder
    data = ledger.functions.consume(seg, 1000, 0, h("sale"))._encode_transaction_data()
    typed = forward_request_typed_data(
        sb.chain_id, forwarder.address, sender=w.farm.address, to=ledger.address, data=bytes.fromhex(data[2:]),
        nonce=forwarder.functions.nonces(w.farm.address).call(), deadline=sb.now() + 3600, gas=300_000)
    m = typed["message"]
    request = (m["from"], m["to"], 0, m["gas"], m["deadline"], bytes.fromhex(m["data"][2:]),
               sign_typed(w.farm.account.key, typed))
    gas("consume, wallet-signed and relayed through the forwarder", sb.tx(forwarder.functions.execute(request), sb.relayer))

    sizes = {name: len(w3.eth.get_code(addr)) for name, addr in addresses.items()}
    for name, size in sizes.items():
        rows.append({"operation": f"deployed code size of {name} (bytes, EIP-170 limit 24,576)", "gas": size})
    # The library BatchLedger links (deploy_all deploys it but returns the five contracts only).
    library = (len(artifacts["Origins"]["deployedBytecode"]) - 2) // 2
    rows.append({"operation": "deployed code size of Origins, library linked by BatchLedger (bytes)", "gas": library})

    checks = [
        _check("signed custody transfer of a segregated batch <= 2.5 x bare warm ERC-1155 transfer",
               f"{seg_warm / bare_warm:.2f} x", "2.5 x", seg_warm <= 2.5 * bare_warm),
        _check("mass-balance transfer with its declaration <= 3.5 x bare warm ERC-1155 transfer",
               f"{mb_warm / bare_warm:.2f} x", "3.5 x", mb_warm <= 3.5 * bare_warm),
        _check("certificate claim <= 85,000 gas", f"{claim_gas:,}", "85,000", claim_gas <= 85_000),
        _check("certificate issue <= 200,000 gas", f"{issue_gas:,}", "200,000", issue_gas <= 200_000),
        _check("every contract within 24,576 bytes (EIP-170)", f"{max(sizes.values()):,}", "24,576",
               max(sizes.values()) <= 24_576),
    ]
    return rows, checks


#: custody transfers per RelayBatch transaction in the amortised figure (an ERP upload's chunk)
BATCH_ITEMS = 20


def measure_batching(url: str, accounts: list, rows: list[dict], items: int = BATCH_ITEMS,
                     artifacts: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Signed custody transfers carried ``items`` to a transaction by RelayBatch (the relayer's
    batches): one supplier's upload, warm (the receiver holds the batch, both have signed before).
    Amortised = the batch transaction's gasUsed / items, base fee and calldata included. Runs on a
    fresh deployment; ``rows`` must hold the bare warm ERC-1155 transfer measured on the same chain."""
    w3 = connect(Settings(), rpc_url=url)
    artifacts = artifacts or compile_contracts()
    addresses = deploy_all(w3, accounts[0], artifacts)
    at = {short: w3.eth.contract(address=addresses[full], abi=artifacts[full]["abi"]) for full, short in SHORT_NAMES.items()}
    c = Contracts(at["registry"], at["forwarder"], at["mass_balance"], at["ledger"], at["certificates"])
    sb = Sandbox(w3, c, accounts[0], accounts[19])
    w = build_world(sb, accounts)
    ledger = c.ledger
    batcher = deploy_contract(w3, artifacts["RelayBatch"], accounts[0], ledger.address, c.forwarder.address)
    bare_warm = next(r["gas"] for r in rows if r["operation"] == "bare ERC-1155 safeTransferFrom, warm")
    origin = sb.origin_params(w.farm, w.raw_cotton, 10**10, characteristic=w.organic, model=SEGREGATED)
    seg = sb.events(sb.tx(ledger.functions.createOrigin(origin[:7] + (sb.next_evidence(),) + origin[8:]), w.farm),
                    ledger, "BatchCreated")[0]["batchId"]

    def calls(n: int) -> list[bytes]:
        first = ledger.functions.nonces(w.farm.address).call()
        out = []
        for k in range(n):
            t = sb.offer(w.farm, w.ginner, seg, 1000, nonce=first + k)
            deadline = sb.now() + 3600
            data = ledger.functions.transferWithAcceptance(
                t.as_tuple(), sb.sign_offer(w.farm, t), deadline, sb.sign_accept(w.ginner, t, deadline)
            )._encode_transaction_data()
            out.append(bytes.fromhex(data[2:]))
        return out

    sb.tx(batcher.functions.run(calls(2)), sb.relayer)  # warm: the receiver holds the batch, both signed before
    receipt = sb.tx(batcher.functions.run(calls(items)), sb.relayer)
    assert all(e["ok"] for e in sb.events(receipt, batcher, "ItemRun")), "an item of the measured batch reverted"
    per_item = int(receipt["gasUsed"]) // items
    out = [{"operation": f"signed custody transfer (both signatures), segregated, warm, {items} per RelayBatch "
                         "transaction (amortised)", "gas": per_item},
           {"operation": "deployed code size of RelayBatch (bytes)",
            "gas": len(w3.eth.get_code(batcher.address))}]
    check = _check(f"signed custody transfer in a batch of {items}, amortised, <= 1.8 x bare warm ERC-1155 transfer",
                   f"{per_item / bare_warm:.2f} x", "1.8 x", per_item <= 1.8 * bare_warm)
    return out, [check]


def _check(target: str, measured: str, limit: str, ok: bool) -> dict:
    return {"target": target, "measured": measured, "limit": limit, "ok": bool(ok)}


if __name__ == "__main__":
    raise SystemExit(main())
