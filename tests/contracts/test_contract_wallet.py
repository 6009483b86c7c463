"""Custody signatures from a smart-contract wallet (ERC-1271), e.g. a participant's multisig."""

from dataclasses import replace

from helpers import expect_revert

from node_api.core.chain import deploy_contract
from testkit.sandbox import ROLE_SUPPLIER, SEGREGATED
from node_api.signing import accept_typed_data, sign_typed, transfer_typed_data


def _contract_wallet_participant(world, artifacts, accounts):
    """A certified participant whose custody wallet is a contract owned by one key."""
    sb = world.sb
    owner = accounts[12]
    wallet = deploy_contract(sb.w3, artifacts["ContractWallet"], accounts[0], owner.address)
    actor = sb.participant("Multisig Mill", ROLE_SUPPLIER, owner, site="Mill Porto")
    sb.tx(sb.c.registry.functions.addWallet(wallet.address, actor.participant_id, actor.site_id), owner)
    sb.certify(world.certifier, actor, [world.raw_cotton], [world.organic])
    return owner, wallet


def _deliver_to_wallet(world, owner, wallet, quantity):
    sb = world.sb
    batch = sb.create_origin(world.farm, world.raw_cotton, 5_000, characteristic=world.organic, model=SEGREGATED)
    t = sb.offer(world.farm, wallet.address, batch, quantity)
    deadline = sb.now() + 3600
    accept = sign_typed(owner.key, accept_typed_data(sb.chain_id, sb.c.ledger.address, t, deadline))
    sb.tx(sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(world.farm, t), deadline, accept),
          sb.relayer)
    return batch


def test_transferWithAcceptance_contractWalletReceiverAcceptsWithERC1271(world, artifacts, accounts):
    owner, wallet = _contract_wallet_participant(world, artifacts, accounts)
    batch = _deliver_to_wallet(world, owner, wallet, 2_000)
    assert world.sb.balance(wallet.address, batch) == 2_000
    assert world.sb.balance(world.farm, batch) == 3_000


def test_proposeTransfer_contractWalletSenderRefusesForeignKey(world, artifacts, accounts):
    sb = world.sb
    owner, wallet = _contract_wallet_participant(world, artifacts, accounts)
    batch = _deliver_to_wallet(world, owner, wallet, 1_000)
    onward = replace(sb.offer(world.farm, world.spinner, batch, 400), from_=wallet.address,
                     nonce=sb.c.ledger.functions.nonces(wallet.address).call())

    foreign = sign_typed(accounts[13].key, transfer_typed_data(sb.chain_id, sb.c.ledger.address, onward))
    expect_revert(sb.c.ledger.functions.proposeTransfer(onward.as_tuple(), foreign), sb.relayer,
                  "BatchInvalidSignature", expectedSigner=wallet.address)
    assert sb.balance(wallet.address, batch) == 1_000

    signed_by_owner = sign_typed(owner.key, transfer_typed_data(sb.chain_id, sb.c.ledger.address, onward))
    sb.tx(sb.c.ledger.functions.proposeTransfer(onward.as_tuple(), signed_by_owner), sb.relayer)
    assert sb.balance(wallet.address, batch) == 600
    assert sb.balance(sb.c.ledger.address, batch) == 400
