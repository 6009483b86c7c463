"""ParticipantRegistry: the consortium's permissions, certifications and certified capacities.

Every refusal asserts the decoded custom error with all of its arguments, and that the registry (and
the batch ledger, where an origin was refused) is exactly as it was before.
"""

from __future__ import annotations


import pytest

from helpers import call_revert, events, expect_revert
from helpers import read_views, tx
from testkit.sandbox import (
    ALL_MODELS,
    CONTROLLED_BLENDING,
    DAY,
    IDENTITY_PRESERVED,
    MASS_BALANCE,
    PPM,
    ROLE_ADMIN,
    ROLE_AUDITOR,
    ROLE_BRAND,
    ROLE_CERTIFIER,
    ROLE_ISSUER,
    ROLE_SUPPLIER,
    SEGREGATED,
    UNCERTIFIED,
    h,
    models_mask,
)
from node_api.signing import forward_request_typed_data, sign_typed

# IParticipantRegistry enums
P_NONE, P_ACTIVE, P_SUSPENDED = 0, 1, 2
C_NONE, C_ACTIVE, C_SUSPENDED, C_WITHDRAWN = 0, 1, 2, 3
CERTIFIED_MODELS = (MASS_BALANCE, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED)


# ---------------------------------------------------------------------------------------------- helpers





def registry_state(world, accounts) -> dict:
    """Everything a refused registry action could have touched, plus the ledger's batch counters."""
    sb = world.sb
    r, ledger = sb.c.registry, sb.c.ledger
    n_participants, n_sites, n_certifications = r.functions.counts().call()[:3]
    suppliers = (world.farm, world.farm2, world.ginner, world.trader)
    calls = {"counts": (r, "counts", ())}
    calls |= {("participant", i): (r, "participant", (i,)) for i in range(1, n_participants + 2)}
    calls |= {("site", i): (r, "siteOwner", (i,)) for i in range(1, n_sites + 2)}
    calls |= {("wallet", a.address): (r, "wallet", (a.address,)) for a in accounts}
    calls |= {("certification", i): (r, "certification", (i,)) for i in range(1, n_certifications + 2)}
    calls |= {
        ("capacity", a.name, m): (r, "capacity", (a.participant_id, m))
        for a in suppliers for m in (world.raw_cotton, world.lint)
    }
    calls |= {
        ("coverage", m): (r, "certificationFor", (world.farm.participant_id, world.raw_cotton, world.organic, m))
        for m in CERTIFIED_MODELS
    }
    calls |= {name: (r, name, ()) for name in ("batchLedger", "massBalance", "certificateRegistry")}
    calls |= {"batchCount": (ledger, "batchCount", ()), "totals": (ledger, "totals", ())}
    return read_views(sb.w3, calls)


def refused(world, accounts, fn, sender, error: str, /, **args):
    """`fn` sent by `sender` reverts with `error(**args)` (every argument asserted) and changes nothing."""
    before = registry_state(world, accounts)
    account = getattr(sender, "account", sender)
    rev = expect_revert(fn, account, error, **args)
    assert set(rev.error_args) == set(args), f"unasserted error arguments: {rev.error_args}"
    assert registry_state(world, accounts) == before
    return rev


def origin_fn(sb, actor, material, quantity, *, characteristic=0, model=UNCERTIFIED, share=None):
    """The createOrigin call as Sandbox.create_origin builds it, unsent (to assert refusals)."""
    params = sb.origin_params(actor, material, quantity, characteristic=characteristic, model=model, share=share)
    return sb.c.ledger.functions.createOrigin(params)


def cert_params(sb, holder_id, materials, characteristics, models=ALL_MODELS, *, number="GOTS-TEST-1",
                valid_from=None, valid_to=None):
    now = sb.now()
    return (
        holder_id,
        "GOTS",
        number,
        list(materials),
        list(characteristics),
        models,
        now - DAY if valid_from is None else valid_from,
        now + 365 * DAY if valid_to is None else valid_to,
    )


def covered(world, actor, material, characteristic, model):
    r = world.sb.c.registry.functions
    return tuple(r.certificationFor(actor.participant_id, material, characteristic, model).call())


# ---------------------------------------------------------------------------------------------- participants


def test_registerParticipant_by_admin_records_active_participant(world, accounts):
    sb = world.sb
    r = sb.c.registry
    before = r.functions.counts().call()
    receipt = tx(r.functions.registerParticipant("Dye House", ROLE_SUPPLIER | ROLE_BRAND), sb.admin)
    (ev,) = events(r, receipt, "ParticipantRegistered")
    assert ev == {"participantId": before[0] + 1, "name": "Dye House", "roles": ROLE_SUPPLIER | ROLE_BRAND}
    assert tuple(r.functions.participant(before[0] + 1).call()) == (ROLE_SUPPLIER | ROLE_BRAND, P_ACTIVE)
    assert r.functions.counts().call()[0] == before[0] + 1


def test_registerParticipant_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.registerParticipant("Rogue", ROLE_SUPPLIER)
    refused(world, accounts, fn, world.certifier, "RegistryMissingRole",
            wallet=world.certifier.address, participantId=world.certifier.participant_id, role=ROLE_ADMIN)


def test_registerParticipant_by_unregistered_wallet(world, accounts):
    fn = world.sb.c.registry.functions.registerParticipant("Rogue", ROLE_ADMIN)
    refused(world, accounts, fn, accounts[12], "RegistryUnknownWallet", wallet=accounts[12].address)


def test_registerParticipant_by_suspended_admin(world, accounts):
    sb = world.sb
    second_admin = sb.participant("Second Admin", ROLE_ADMIN, accounts[10])
    tx(sb.c.registry.functions.setParticipantStatus(second_admin.participant_id, P_SUSPENDED), sb.admin)
    fn = sb.c.registry.functions.registerParticipant("Rogue", ROLE_SUPPLIER)
    refused(world, accounts, fn, accounts[10], "RegistryParticipantSuspended",
            participantId=second_admin.participant_id)


@pytest.mark.parametrize("roles", [0, 64, 255])
def test_registerParticipant_invalid_roles(world, accounts, roles):
    fn = world.sb.c.registry.functions.registerParticipant("Nobody", roles)
    refused(world, accounts, fn, world.sb.admin, "RegistryInvalidRoles", roles=roles)


def test_setRoles_replaces_roles_and_takes_effect_next_transaction(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    receipt = tx(r.functions.setRoles(world.farm.participant_id, ROLE_BRAND), sb.admin)
    assert events(r, receipt, "ParticipantRolesChanged") == [
        {"participantId": world.farm.participant_id, "roles": ROLE_BRAND}
    ]
    assert tuple(r.functions.participant(world.farm.participant_id).call()) == (ROLE_BRAND, P_ACTIVE)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_SUPPLIER)


def test_setRoles_unknown_participant(world, accounts):
    fn = world.sb.c.registry.functions.setRoles(999, ROLE_SUPPLIER)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownParticipant", participantId=999)


@pytest.mark.parametrize("roles", [0, 64])
def test_setRoles_invalid_roles(world, accounts, roles):
    fn = world.sb.c.registry.functions.setRoles(world.farm.participant_id, roles)
    refused(world, accounts, fn, world.sb.admin, "RegistryInvalidRoles", roles=roles)


def test_setRoles_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.setRoles(world.farm.participant_id, ROLE_SUPPLIER | ROLE_ADMIN)
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_ADMIN)


def test_setParticipantStatus_suspended_participant_can_do_nothing_until_reactivated(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    farm = world.farm
    receipt = tx(r.functions.setParticipantStatus(farm.participant_id, P_SUSPENDED), sb.admin)
    assert events(r, receipt, "ParticipantStatusChanged") == [{"participantId": farm.participant_id, "status": P_SUSPENDED}]
    assert call_revert(r.functions.requireActor(farm.address, ROLE_SUPPLIER)) == (
        "RegistryParticipantSuspended", {"participantId": farm.participant_id}
    )
    for model in (UNCERTIFIED, SEGREGATED):
        fn = origin_fn(sb, farm, world.raw_cotton, 1_000, characteristic=0 if model == UNCERTIFIED else world.organic,
                       model=model)
        refused(world, accounts, fn, farm, "RegistryParticipantSuspended", participantId=farm.participant_id)

    tx(r.functions.setParticipantStatus(farm.participant_id, P_ACTIVE), sb.admin)
    batch = sb.create_origin(farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    assert sb.balance(farm, batch) == 1_000


def test_setParticipantStatus_suspended_certifier_cannot_certify(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    tx(r.functions.setParticipantStatus(world.certifier.participant_id, P_SUSPENDED), sb.admin)
    fn = r.functions.recordCertification(cert_params(sb, world.trader.participant_id, [world.raw_cotton], [world.organic]))
    refused(world, accounts, fn, world.certifier, "RegistryParticipantSuspended",
            participantId=world.certifier.participant_id)


def test_setParticipantStatus_to_none(world, accounts):
    fn = world.sb.c.registry.functions.setParticipantStatus(world.farm.participant_id, P_NONE)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownParticipant", participantId=world.farm.participant_id)


def test_setParticipantStatus_unknown_participant(world, accounts):
    fn = world.sb.c.registry.functions.setParticipantStatus(999, P_SUSPENDED)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownParticipant", participantId=999)


def test_setParticipantStatus_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.setParticipantStatus(world.farm2.participant_id, P_SUSPENDED)
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_ADMIN)


# ---------------------------------------------------------------------------------------------- sites and wallets


def test_addSite_records_owner(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    n_sites = r.functions.counts().call()[1]
    receipt = tx(r.functions.addSite(world.ginner.participant_id, "Gin Surat", h("loc:surat")), sb.admin)
    assert events(r, receipt, "SiteAdded") == [{
        "siteId": n_sites + 1, "participantId": world.ginner.participant_id, "name": "Gin Surat",
        "locationRef": h("loc:surat"),
    }]
    assert r.functions.siteOwner(n_sites + 1).call() == world.ginner.participant_id


def test_addSite_unknown_participant(world, accounts):
    fn = world.sb.c.registry.functions.addSite(999, "Nowhere", h("loc:none"))
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownParticipant", participantId=999)


def test_addSite_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.addSite(world.farm.participant_id, "Extra", h("loc:extra"))
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_ADMIN)


def test_addWallet_second_wallet_acts_for_its_participant_and_site(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    # the participant's consent: its own wallet binds the further one
    receipt = tx(r.functions.addWallet(accounts[10].address, world.farm.participant_id, world.farm.site_id), world.farm)
    assert events(r, receipt, "WalletAdded") == [
        {"wallet": accounts[10].address, "participantId": world.farm.participant_id, "siteId": world.farm.site_id,
         "by": world.farm.address}
    ]
    assert tuple(r.functions.wallet(accounts[10].address).call()) == (world.farm.participant_id, world.farm.site_id)
    receipt = tx(origin_fn(sb, world.farm, world.raw_cotton, 2_000, characteristic=world.organic, model=SEGREGATED),
                 accounts[10])
    (created,) = events(sb.c.ledger, receipt, "BatchCreated")
    assert created["creator"] == world.farm.participant_id and created["holder"] == accounts[10].address
    assert sb.c.ledger.functions.origin(created["batchId"]).call()[0] == world.farm.site_id


def test_addWallet_already_registered(world, accounts):
    fn = world.sb.c.registry.functions.addWallet(world.farm.address, world.farm2.participant_id, 0)
    refused(world, accounts, fn, world.farm2, "RegistryWalletAlreadyRegistered",
            wallet=world.farm.address, participantId=world.farm.participant_id)


def test_addWallet_unknown_site(world, accounts):
    fn = world.sb.c.registry.functions.addWallet(accounts[10].address, world.farm.participant_id, 999)
    refused(world, accounts, fn, world.farm, "RegistryUnknownSite", siteId=999)


def test_addWallet_site_of_another_participant(world, accounts):
    fn = world.sb.c.registry.functions.addWallet(accounts[10].address, world.farm.participant_id, world.farm2.site_id)
    refused(world, accounts, fn, world.farm, "RegistrySiteNotOwned",
            siteId=world.farm2.site_id, participantId=world.farm.participant_id)


def test_addWallet_unknown_participant(world, accounts):
    fn = world.sb.c.registry.functions.addWallet(accounts[10].address, 999, 0)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownParticipant", participantId=999)


def test_addWallet_by_another_participant(world, accounts):
    fn = world.sb.c.registry.functions.addWallet(accounts[10].address, world.farm.participant_id, world.farm.site_id)
    refused(world, accounts, fn, world.farm2, "RegistryMissingRole",
            wallet=world.farm2.address, participantId=world.farm2.participant_id, role=ROLE_ADMIN)


def test_addWallet_admin_alone_cannot_bind_to_a_member(world, accounts):
    """J: the admin binding its own wallet to a member's site to spend the member's credits is refused."""
    fn = world.sb.c.registry.functions.addWallet(accounts[10].address, world.farm.participant_id, world.farm.site_id)
    refused(world, accounts, fn, world.sb.admin, "RegistryWalletConsentRequired",
            participantId=world.farm.participant_id, caller=world.sb.admin.address)


def test_addWallet_admin_cannot_rebind_after_removing_every_wallet(world, accounts):
    """Removing a member's only wallet does not reopen the admin's onboarding path."""
    sb, r = world.sb, world.sb.c.registry
    tx(r.functions.removeWallet(world.farm.address), sb.admin)
    fn = r.functions.addWallet(accounts[10].address, world.farm.participant_id, world.farm.site_id)
    refused(world, accounts, fn, sb.admin, "RegistryWalletConsentRequired",
            participantId=world.farm.participant_id, caller=sb.admin.address)


def test_addWallet_admin_binds_the_first_wallet_at_onboarding(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    receipt = tx(r.functions.registerParticipant("New Mill", ROLE_SUPPLIER), sb.admin)
    pid = events(r, receipt, "ParticipantRegistered")[0]["participantId"]
    receipt = tx(r.functions.addSite(pid, "Mill Surat", h("location:Mill Surat")), sb.admin)
    site = events(r, receipt, "SiteAdded")[0]["siteId"]
    receipt = tx(r.functions.addWallet(accounts[10].address, pid, site), sb.admin)
    assert events(r, receipt, "WalletAdded")[0]["by"] == sb.admin.address
    # from then on only the member's own wallet binds another
    refused(world, accounts, r.functions.addWallet(accounts[11].address, pid, site), sb.admin,
            "RegistryWalletConsentRequired", participantId=pid, caller=sb.admin.address)
    tx(r.functions.addWallet(accounts[11].address, pid, site), accounts[10])
    assert tuple(r.functions.wallet(accounts[11].address).call()) == (pid, site)


# ---------------------------------------------------------------- site 0 (issue 13)
def _new_participant(world, roles, *, site=None):
    sb, r = world.sb, world.sb.c.registry
    receipt = tx(r.functions.registerParticipant("Newcomer", roles), sb.admin)
    pid = events(r, receipt, "ParticipantRegistered")[0]["participantId"]
    if site is None:
        return pid, 0
    receipt = tx(r.functions.addSite(pid, site, h(f"location:{site}")), sb.admin)
    return pid, events(r, receipt, "SiteAdded")[0]["siteId"]


@pytest.mark.parametrize("roles", [ROLE_SUPPLIER, ROLE_BRAND, ROLE_SUPPLIER | ROLE_CERTIFIER, ROLE_BRAND | ROLE_ADMIN])
def test_addWallet_site_zero_refused_for_roles_acting_from_a_site(world, accounts, roles):
    sb, r = world.sb, world.sb.c.registry
    pid, site = _new_participant(world, roles, site="Plant A")
    # the admin's onboarding binding and the participant's own further binding alike
    refused(world, accounts, r.functions.addWallet(accounts[10].address, pid, 0), sb.admin,
            "RegistryWalletNeedsSite", wallet=accounts[10].address, participantId=pid)
    tx(r.functions.addWallet(accounts[10].address, pid, site), sb.admin)
    refused(world, accounts, r.functions.addWallet(accounts[11].address, pid, 0), accounts[10],
            "RegistryWalletNeedsSite", wallet=accounts[11].address, participantId=pid)
    assert tuple(r.functions.wallet(accounts[11].address).call()) == (0, 0)


def test_addWallet_site_zero_refused_before_the_participant_has_any_site(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    pid, _ = _new_participant(world, ROLE_SUPPLIER)
    refused(world, accounts, r.functions.addWallet(accounts[10].address, pid, 0), sb.admin,
            "RegistryWalletNeedsSite", wallet=accounts[10].address, participantId=pid)


@pytest.mark.parametrize("roles", [ROLE_CERTIFIER, ROLE_ISSUER, ROLE_AUDITOR, ROLE_CERTIFIER | ROLE_ISSUER])
def test_addWallet_site_zero_allowed_for_roles_without_stock(world, accounts, roles):
    sb, r = world.sb, world.sb.c.registry
    pid, _ = _new_participant(world, roles)
    tx(r.functions.addWallet(accounts[10].address, pid, 0), sb.admin)
    assert tuple(r.functions.wallet(accounts[10].address).call()) == (pid, 0)


def test_setRoles_refuses_site_roles_while_a_wallet_has_no_site(world, accounts):
    """The other way to a supplier wallet without a site: bind it as a certifier, then change the roles."""
    sb, r = world.sb, world.sb.c.registry
    pid, site = _new_participant(world, ROLE_CERTIFIER, site="Office")
    tx(r.functions.addWallet(accounts[10].address, pid, 0), sb.admin)
    tx(r.functions.addWallet(accounts[11].address, pid, site), accounts[10])
    for roles in (ROLE_SUPPLIER, ROLE_BRAND, ROLE_CERTIFIER | ROLE_SUPPLIER):
        refused(world, accounts, r.functions.setRoles(pid, roles), sb.admin, "RegistrySitelessWallets",
                participantId=pid, wallets=1)
    tx(r.functions.setRoles(pid, ROLE_CERTIFIER | ROLE_ISSUER), sb.admin)  # roles without stock stay allowed
    # removing the wallet with a site does not count down the siteless ones
    tx(r.functions.removeWallet(accounts[11].address), sb.admin)
    refused(world, accounts, r.functions.setRoles(pid, ROLE_SUPPLIER), sb.admin, "RegistrySitelessWallets",
            participantId=pid, wallets=1)
    tx(r.functions.removeWallet(accounts[10].address), sb.admin)
    tx(r.functions.setRoles(pid, ROLE_SUPPLIER), sb.admin)
    assert r.functions.participant(pid).call()[0] == ROLE_SUPPLIER


def test_setRoles_admin_participant_cannot_become_a_supplier_with_its_siteless_wallet(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    admin_pid = r.functions.wallet(sb.admin.address).call()[0]
    refused(world, accounts, r.functions.setRoles(admin_pid, ROLE_ADMIN | ROLE_SUPPLIER), sb.admin,
            "RegistrySitelessWallets", participantId=admin_pid, wallets=1)


def test_removeWallet_wallet_can_no_longer_act(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    receipt = tx(r.functions.removeWallet(world.farm.address), sb.admin)
    assert events(r, receipt, "WalletRemoved") == [
        {"wallet": world.farm.address, "participantId": world.farm.participant_id}
    ]
    assert tuple(r.functions.wallet(world.farm.address).call()) == (0, 0)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryUnknownWallet", wallet=world.farm.address)


def test_removeWallet_unknown_wallet(world, accounts):
    fn = world.sb.c.registry.functions.removeWallet(accounts[13].address)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownWallet", wallet=accounts[13].address)


def test_removeWallet_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.removeWallet(world.farm2.address)
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_ADMIN)


def test_requireActor_returns_participant_and_site(world, accounts):
    r = world.sb.c.registry.functions
    assert tuple(r.requireActor(world.ginner.address, ROLE_SUPPLIER).call()) == (
        world.ginner.participant_id, world.ginner.site_id
    )
    # any of the roles asked for is enough
    assert tuple(r.requireActor(world.brand.address, ROLE_SUPPLIER | ROLE_BRAND).call()) == (
        world.brand.participant_id, world.brand.site_id
    )
    assert call_revert(r.requireActor(world.auditor.address, ROLE_SUPPLIER | ROLE_BRAND)) == (
        "RegistryMissingRole",
        {"wallet": world.auditor.address, "participantId": world.auditor.participant_id, "role": ROLE_SUPPLIER | ROLE_BRAND},
    )
    assert call_revert(r.requireActor(accounts[14].address, ROLE_AUDITOR)) == (
        "RegistryUnknownWallet", {"wallet": accounts[14].address}
    )


# ---------------------------------------------------------------------------------------------- reference data


def test_registerMaterial_records_group_and_waste(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    n = r.functions.counts().call()[3]
    receipt = tx(r.functions.registerMaterial("cotton fabric", "g", 4, False), sb.admin)
    assert events(r, receipt, "MaterialRegistered") == [
        {"material": n + 1, "name": "cotton fabric", "unit": "g", "group": 4, "waste": False}
    ]
    assert tuple(r.functions.material(n + 1).call()) == (4, False, True)
    assert tuple(r.functions.material(world.cotton_waste).call()) == (2, True, True)


def test_registerMaterial_by_non_admin(world, accounts):
    fn = world.sb.c.registry.functions.registerMaterial("x", "g", 1, False)
    refused(world, accounts, fn, world.certifier, "RegistryMissingRole",
            wallet=world.certifier.address, participantId=world.certifier.participant_id, role=ROLE_ADMIN)


def test_registerScheme_records_balancing_rules(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    anchor = sb.now() - 10 * DAY
    counts = r.functions.counts().call()
    n_chars, n_schemes = counts[4], counts[5]
    receipt = tx(r.functions.registerScheme("MSPO", 366 * DAY, anchor, 16), sb.admin)
    assert events(r, receipt, "SchemeRegistered") == [
        {"scheme": n_schemes + 1, "name": "MSPO", "periodLength": 366 * DAY, "anchor": anchor, "lapseAfterPeriods": 16}
    ]
    receipt = tx(r.functions.registerCharacteristic("sustainable palm", n_schemes + 1), sb.admin)
    assert events(r, receipt, "CharacteristicRegistered") == [
        {"characteristic": n_chars + 1, "name": "sustainable palm", "scheme": n_schemes + 1}
    ]
    scheme_id, scheme = r.functions.schemeOf(n_chars + 1).call()
    assert (scheme_id, tuple(scheme)) == (n_schemes + 1, (366 * DAY, anchor, 16, True))


@pytest.mark.parametrize(
    "period_length, anchor_offset, lapse, field",
    [
        (0, 0, 0, "periodLength"),
        (366 * DAY + 1, 0, 0, "periodLength"),
        (90 * DAY, 1_000, 0, "anchor"),
        (90 * DAY, 0, 17, "lapseAfterPeriods"),
    ],
)
def test_registerScheme_invalid(world, accounts, period_length, anchor_offset, lapse, field):
    sb = world.sb
    fn = sb.c.registry.functions.registerScheme("Bad", period_length, sb.now() + anchor_offset, lapse)
    refused(world, accounts, fn, sb.admin, "RegistryInvalidScheme", field=field)


def test_registerCharacteristic_unknown_scheme(world, accounts):
    fn = world.sb.c.registry.functions.registerCharacteristic("fairtrade", 99)
    refused(world, accounts, fn, world.sb.admin, "RegistryUnknownScheme", scheme=99)


def test_schemeOf_unknown_characteristic(world):
    r = world.sb.c.registry.functions
    assert call_revert(r.schemeOf(99)) == ("RegistryUnknownCharacteristic", {"characteristic": 99})


def test_registerProcess_records_factor_and_tolerance(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    n = r.functions.counts().call()[6]
    receipt = tx(r.functions.registerProcess("carding", world.lint, world.lint, PPM, PPM), sb.admin)
    assert events(r, receipt, "ProcessRegistered") == [{
        "processId": n + 1, "name": "carding", "inputMaterial": world.lint, "outputMaterial": world.lint,
        "factor": PPM, "tolerance": PPM,
    }]
    assert tuple(r.functions.process(world.spinning).call()) == (world.lint, world.yarn, 850_000, 50_000, True)
    assert call_revert(r.functions.process(99)) == ("RegistryUnknownProcess", {"processId": 99})


@pytest.mark.parametrize(
    "inp, out, factor, tolerance, error, args",
    [
        (99, "lint", 500_000, 0, "RegistryUnknownMaterial", {"material": 99}),
        ("lint", 99, 500_000, 0, "RegistryUnknownMaterial", {"material": 99}),
        ("lint", "yarn", 0, 0, "RegistryInvalidProcess", {"field": "factor"}),
        ("lint", "yarn", PPM + 1, 0, "RegistryInvalidProcess", {"field": "factor"}),
        ("lint", "yarn", 500_000, 500_001, "RegistryInvalidProcess", {"field": "tolerance"}),
    ],
)
def test_registerProcess_invalid(world, accounts, inp, out, factor, tolerance, error, args):
    resolve = lambda m: getattr(world, m) if isinstance(m, str) else m  # noqa: E731
    fn = world.sb.c.registry.functions.registerProcess("bad", resolve(inp), resolve(out), factor, tolerance)
    refused(world, accounts, fn, world.sb.admin, error, **args)


def test_linkContracts_only_once(world, accounts):
    sb = world.sb
    r = sb.c.registry.functions
    assert (r.batchLedger().call(), r.massBalance().call(), r.certificateRegistry().call(), r.forwarder().call()) == (
        sb.c.ledger.address, sb.c.mass_balance.address, sb.c.certificates.address, sb.c.forwarder.address
    )
    fn = r.linkContracts(accounts[15].address, accounts[15].address, accounts[15].address)
    refused(world, accounts, fn, sb.admin, "RegistryAlreadyLinked")


def test_useCapacity_only_batch_ledger(world, accounts):
    fn = world.sb.c.registry.functions.useCapacity(world.farm.participant_id, world.raw_cotton, 1)
    refused(world, accounts, fn, world.sb.admin, "RegistryNotLinkedContract", caller=world.sb.admin.address)


# ---------------------------------------------------------------------------------------------- certifications


def test_recordCertification_covers_exactly_its_materials_characteristics_and_models(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    mill = sb.participant("Weaving Mill", ROLE_SUPPLIER, accounts[10], site="Weaver Coimbatore")
    n = r.functions.counts().call()[2]
    models = models_mask(MASS_BALANCE, SEGREGATED)
    params = cert_params(sb, mill.participant_id, [world.lint], [world.organic], models, number="GOTS-CU-816")
    receipt = sb.tx(r.functions.recordCertification(params), world.certifier)
    (ev,) = events(r, receipt, "CertificationRecorded")
    assert (ev["certificationId"], ev["holder"], ev["certifier"]) == (n + 1, mill.participant_id, world.certifier.participant_id)
    assert dict(ev["params"]) == {
        "holder": mill.participant_id, "scheme": "GOTS", "certificateNumber": "GOTS-CU-816",
        "materials": [world.lint], "characteristics": [world.organic], "models": models,
        "validFrom": params[6], "validTo": params[7],
    }
    assert tuple(r.functions.certification(n + 1).call()) == (
        mill.participant_id, world.certifier.participant_id, models, C_ACTIVE, params[6], params[7]
    )
    assert covered(world, mill, world.lint, world.organic, SEGREGATED) == (True, n + 1)
    assert covered(world, mill, world.lint, world.organic, MASS_BALANCE) == (True, n + 1)
    assert covered(world, mill, world.lint, world.organic, IDENTITY_PRESERVED) == (False, 0)
    assert covered(world, mill, world.lint, world.organic, CONTROLLED_BLENDING) == (False, 0)
    assert covered(world, mill, world.raw_cotton, world.organic, SEGREGATED) == (False, 0)
    assert covered(world, mill, world.lint, world.recycled, SEGREGATED) == (False, 0)


def test_recordCertification_by_non_certifier(world, accounts):
    sb = world.sb
    fn = sb.c.registry.functions.recordCertification(
        cert_params(sb, world.trader.participant_id, [world.raw_cotton], [world.organic])
    )
    refused(world, accounts, fn, world.issuer, "RegistryMissingRole",
            wallet=world.issuer.address, participantId=world.issuer.participant_id, role=ROLE_CERTIFIER)


def test_recordCertification_self_certification_by_supplier(world, accounts):
    sb = world.sb
    fn = sb.c.registry.functions.recordCertification(
        cert_params(sb, world.trader.participant_id, [world.raw_cotton], [world.organic])
    )
    refused(world, accounts, fn, world.trader, "RegistryMissingRole",
            wallet=world.trader.address, participantId=world.trader.participant_id, role=ROLE_CERTIFIER)


@pytest.mark.parametrize(
    "change, error, args",
    [
        ({"holder": 999}, "RegistryUnknownParticipant", {"participantId": 999}),
        ({"materials": []}, "RegistryInvalidCertification", {"field": "materials"}),
        ({"characteristics": []}, "RegistryInvalidCertification", {"field": "characteristics"}),
        ({"models": 0}, "RegistryInvalidCertification", {"field": "models"}),
        ({"models": 1 << UNCERTIFIED}, "RegistryInvalidCertification", {"field": "models"}),
        ({"models": ALL_MODELS | 1 << UNCERTIFIED}, "RegistryInvalidCertification", {"field": "models"}),
        ({"models": 1 << 5}, "RegistryInvalidCertification", {"field": "models"}),
        ({"valid_to": "from"}, "RegistryInvalidCertification", {"field": "validTo"}),
        ({"valid_to": "before"}, "RegistryInvalidCertification", {"field": "validTo"}),
        ({"number": ""}, "RegistryInvalidCertification", {"field": "certificateNumber"}),
        ({"materials": [99]}, "RegistryUnknownMaterial", {"material": 99}),
        ({"characteristics": [99]}, "RegistryUnknownCharacteristic", {"characteristic": 99}),
    ],
)
def test_recordCertification_invalid(world, accounts, change, error, args):
    sb = world.sb
    now = sb.now()
    holder = change.get("holder", world.trader.participant_id)
    valid_from = now - DAY
    valid_to = {"from": valid_from, "before": valid_from - 1}.get(change.get("valid_to"), now + 365 * DAY)
    params = cert_params(
        sb, holder, change.get("materials", [world.raw_cotton]), change.get("characteristics", [world.organic]),
        change.get("models", ALL_MODELS), number=change.get("number", "GOTS-X"), valid_from=valid_from, valid_to=valid_to,
    )
    refused(world, accounts, sb.c.registry.functions.recordCertification(params), world.certifier, error, **args)


def test_certificationFor_only_inside_validity_window(world, accounts):
    sb = world.sb
    mill = sb.participant("Weaving Mill", ROLE_SUPPLIER, accounts[10], site="Weaver Coimbatore")
    now = sb.now()
    cert = sb.certify(world.certifier, mill, [world.raw_cotton], [world.organic],
                      valid_from=now + 10 * DAY, valid_to=now + 20 * DAY)
    sb.capacity(world.certifier, mill, world.raw_cotton, 10**9, days=400)  # by its certifying body
    assert covered(world, mill, world.raw_cotton, world.organic, SEGREGATED) == (False, 0)
    fn = origin_fn(sb, mill, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, mill, "RegistryNotCertified", participantId=mill.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=SEGREGATED)

    sb.advance(11 * DAY)
    assert covered(world, mill, world.raw_cotton, world.organic, SEGREGATED) == (True, cert)
    batch = sb.create_origin(mill, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    assert sb.c.ledger.functions.origin(batch).call()[2] == cert

    sb.advance(10 * DAY)
    assert covered(world, mill, world.raw_cotton, world.organic, SEGREGATED) == (False, 0)
    fn = origin_fn(sb, mill, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, mill, "RegistryNotCertified", participantId=mill.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=SEGREGATED)


def test_createOrigin_certification_expired(world, accounts):
    sb = world.sb
    sb.capacity(world.certifier, world.farm, world.raw_cotton, 10**12, days=800)
    sb.advance(366 * DAY)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=MASS_BALANCE)
    refused(world, accounts, fn, world.farm, "RegistryNotCertified", participantId=world.farm.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=MASS_BALANCE)


def test_createOrigin_model_not_covered(world, accounts):
    sb = world.sb
    mill = sb.participant("Weaving Mill", ROLE_SUPPLIER, accounts[10], site="Weaver Coimbatore")
    sb.certify(world.certifier, mill, [world.raw_cotton], [world.organic], models_mask(MASS_BALANCE))
    sb.capacity(world.certifier, mill, world.raw_cotton, 10**9)
    sb.create_origin(mill, world.raw_cotton, 1_000, characteristic=world.organic, model=MASS_BALANCE)
    fn = origin_fn(sb, mill, world.raw_cotton, 1_000, characteristic=world.organic, model=IDENTITY_PRESERVED)
    refused(world, accounts, fn, mill, "RegistryNotCertified", participantId=mill.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=IDENTITY_PRESERVED)


def test_setCertificationStatus_suspend_and_reinstate(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    cert = world.certifications[world.farm.name]
    receipt = tx(r.functions.setCertificationStatus(cert, C_SUSPENDED, h("non-conformity")), world.certifier)
    assert events(r, receipt, "CertificationStatusChanged") == [
        {"certificationId": cert, "status": C_SUSPENDED, "reasonHash": h("non-conformity")}
    ]
    assert r.functions.certification(cert).call()[3] == C_SUSPENDED
    assert covered(world, world.farm, world.raw_cotton, world.organic, SEGREGATED) == (False, 0)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryNotCertified", participantId=world.farm.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=SEGREGATED)
    # uncertified material needs no certification
    sb.create_origin(world.farm, world.raw_cotton, 1_000)

    tx(r.functions.setCertificationStatus(cert, C_ACTIVE, h("closed")), world.certifier)
    assert covered(world, world.farm, world.raw_cotton, world.organic, SEGREGATED) == (True, cert)
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    assert sb.balance(world.farm, batch) == 1_000


def test_setCertificationStatus_withdrawn_certification_no_longer_covers(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    cert = world.certifications[world.farm.name]
    tx(r.functions.setCertificationStatus(cert, C_WITHDRAWN, h("fraud")), world.certifier)
    for model in CERTIFIED_MODELS:
        assert covered(world, world.farm, world.raw_cotton, world.organic, model) == (False, 0)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=MASS_BALANCE)
    refused(world, accounts, fn, world.farm, "RegistryNotCertified", participantId=world.farm.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=MASS_BALANCE)


@pytest.mark.parametrize(
    "path, target",
    [
        ((C_WITHDRAWN,), C_ACTIVE),
        ((C_WITHDRAWN,), C_SUSPENDED),
        ((C_WITHDRAWN,), C_WITHDRAWN),
        ((C_SUSPENDED, C_WITHDRAWN), C_ACTIVE),
        ((), C_ACTIVE),
        ((), C_NONE),
        ((C_SUSPENDED,), C_SUSPENDED),
    ],
)
def test_setCertificationStatus_forbidden_transition(world, accounts, path, target):
    r = world.sb.c.registry
    cert = world.certifications[world.farm.name]
    for status in path:
        tx(r.functions.setCertificationStatus(cert, status, h("step")), world.certifier)
    current = path[-1] if path else C_ACTIVE
    fn = r.functions.setCertificationStatus(cert, target, h("again"))
    refused(world, accounts, fn, world.certifier, "RegistryCertificationStatusChange",
            certificationId=cert, **{"from": current, "to": target})


def test_setCertificationStatus_suspended_certification_can_be_withdrawn(world, accounts):
    r = world.sb.c.registry
    cert = world.certifications[world.farm.name]
    tx(r.functions.setCertificationStatus(cert, C_SUSPENDED, h("audit")), world.certifier)
    tx(r.functions.setCertificationStatus(cert, C_WITHDRAWN, h("audit failed")), world.certifier)
    assert r.functions.certification(cert).call()[3] == C_WITHDRAWN


def test_setCertificationStatus_by_another_certifier(world, accounts):
    sb = world.sb
    other = sb.participant("Other Body", ROLE_CERTIFIER, accounts[11])
    cert = world.certifications[world.farm.name]
    fn = sb.c.registry.functions.setCertificationStatus(cert, C_WITHDRAWN, h("hostile"))
    refused(world, accounts, fn, other, "RegistryNotCertificationOwner",
            certificationId=cert, participantId=other.participant_id)


def test_setCertificationStatus_unknown_certification(world, accounts):
    fn = world.sb.c.registry.functions.setCertificationStatus(999, C_SUSPENDED, h("x"))
    refused(world, accounts, fn, world.certifier, "RegistryUnknownCertification", certificationId=999)


def test_setCertificationStatus_by_non_certifier(world, accounts):
    cert = world.certifications[world.farm.name]
    fn = world.sb.c.registry.functions.setCertificationStatus(cert, C_SUSPENDED, h("x"))
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_CERTIFIER)


def test_certificationFor_renewal_covers_while_old_certificate_suspended(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    old = world.certifications[world.farm.name]
    renewal = sb.certify(world.certifier, world.farm, [world.raw_cotton], [world.organic])
    assert covered(world, world.farm, world.raw_cotton, world.organic, SEGREGATED) == (True, renewal)
    tx(r.functions.setCertificationStatus(renewal, C_SUSPENDED, h("x")), world.certifier)
    assert covered(world, world.farm, world.raw_cotton, world.organic, SEGREGATED) == (True, old)
    tx(r.functions.setCertificationStatus(old, C_WITHDRAWN, h("x")), world.certifier)
    assert covered(world, world.farm, world.raw_cotton, world.organic, SEGREGATED) == (False, 0)


def test_recordCertification_already_expired_refused(world, accounts):
    sb = world.sb
    other = sb.participant("Other Body", ROLE_CERTIFIER, accounts[11])
    now = sb.now()
    before = sb.c.registry.functions.counts().call()
    expect_revert(sb.c.registry.functions.recordCertification(
        (world.farm.participant_id, "GOTS", "GOTS-OLD-1", [world.raw_cotton], [world.organic],
         models_mask(SEGREGATED), now - 30 * DAY, now - 20 * DAY)), other.account,
        "RegistryInvalidCertification", field="validTo")
    assert sb.c.registry.functions.counts().call() == before


def test_certificationFor_valid_certification_survives_later_certifications(world, accounts):
    """Later certifications never push a valid one out of view: a new one takes the place of an
    expired, withdrawn or suspended one, one body holds at most two live places, and with four live
    ones a fifth is refused."""
    sb, r = world.sb, world.sb.c.registry
    other = sb.participant("Other Body", ROLE_CERTIFIER, accounts[11])
    third = sb.participant("Third Body", ROLE_CERTIFIER, accounts[14])
    original = world.certifications[world.farm.name]
    now = sb.now()
    future = []
    for body in (other, other, third):  # not yet valid: they count as live and fill the remaining places
        future.append(sb.certify(body, world.farm, [world.raw_cotton], [world.organic], models_mask(SEGREGATED),
                                 valid_from=now + 100 * DAY, valid_to=now + 200 * DAY))
    fifth = (world.farm.participant_id, "GOTS", "GOTS-FIFTH", [world.raw_cotton], [world.organic],
             models_mask(SEGREGATED), now + 100 * DAY, now + 200 * DAY)
    before = r.functions.counts().call()
    expect_revert(r.functions.recordCertification(fifth), third.account, "RegistryCoverageFull")
    expect_revert(r.functions.recordCertification(fifth), other.account, "RegistryCoverageBodyLimit",
                  certifier=other.participant_id)
    assert r.functions.counts().call() == before
    assert covered(world, world.farm, world.raw_cotton, world.organic, MASS_BALANCE) == (True, original)
    # Withdrawing one of the future ones frees its place for the next.
    tx(r.functions.setCertificationStatus(future[0], C_WITHDRAWN, h("error")), other.account)
    tx(r.functions.recordCertification(fifth), other.account)
    assert covered(world, world.farm, world.raw_cotton, world.organic, MASS_BALANCE) == (True, original)


# ---------------------------------------------------------------------------------------------- certified capacity


def test_setCapacity_records_window_and_amount(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    now = sb.now()
    fn = r.functions.setCapacity(world.ginner.participant_id, world.lint, now, now + 90 * DAY, 5_000)
    receipt = tx(fn, world.certifier)
    assert events(r, receipt, "CapacitySet") == [{
        "participantId": world.ginner.participant_id, "material": world.lint, "certifier": world.certifier.participant_id,
        "validFrom": now, "validTo": now + 90 * DAY, "amount": 5_000,
    }]
    assert tuple(r.functions.capacity(world.ginner.participant_id, world.lint).call()) == (now, now + 90 * DAY, 5_000, 0)


def test_createOrigin_counts_certified_quantity_against_capacity(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    farm, raw = world.farm, world.raw_cotton
    sb.capacity(world.certifier, farm, raw, 1_000)

    receipt = sb.tx(origin_fn(sb, farm, raw, 600, characteristic=world.organic, model=SEGREGATED), farm)
    assert events(r, receipt, "CapacityUsed") == [
        {"participantId": farm.participant_id, "material": raw, "amount": 600, "used": 600}
    ]
    # controlled blending counts its certified share only: 400 g at 50 % -> 200 g
    sb.create_origin(farm, raw, 400, characteristic=world.organic, model=CONTROLLED_BLENDING, share=PPM // 2)
    assert r.functions.capacity(farm.participant_id, raw).call()[3] == 800
    # mass balance counts the whole quantity
    sb.create_origin(farm, raw, 200, characteristic=world.recycled, model=MASS_BALANCE)
    assert r.functions.capacity(farm.participant_id, raw).call()[3] == 1_000
    # uncertified material does not count
    sb.create_origin(farm, raw, 10**9)
    assert r.functions.capacity(farm.participant_id, raw).call()[3] == 1_000

    fn = origin_fn(sb, farm, raw, 1, characteristic=world.organic, model=IDENTITY_PRESERVED)
    refused(world, accounts, fn, farm, "RegistryCapacityExceeded",
            participantId=farm.participant_id, material=raw, available=0, requested=1)


def test_createOrigin_above_capacity(world, accounts):
    sb = world.sb
    sb.capacity(world.certifier, world.farm, world.raw_cotton, 1_000)
    sb.create_origin(world.farm, world.raw_cotton, 600, characteristic=world.organic, model=SEGREGATED)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 401, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryCapacityExceeded",
            participantId=world.farm.participant_id, material=world.raw_cotton, available=400, requested=401)


def test_createOrigin_without_capacity(world, accounts):
    sb = world.sb
    # the ginner is certified for raw cotton but holds no capacity for it
    fn = origin_fn(sb, world.ginner, world.raw_cotton, 10, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.ginner, "RegistryCapacityExceeded",
            participantId=world.ginner.participant_id, material=world.raw_cotton, available=0, requested=10)


def test_createOrigin_outside_capacity_window(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    now = sb.now()
    fid = world.farm.participant_id
    tx(r.functions.setCapacity(fid, world.raw_cotton, now + 10 * DAY, now + 20 * DAY, 5_000), world.certifier)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 10, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryCapacityExceeded",
            participantId=fid, material=world.raw_cotton, available=0, requested=10)
    sb.advance(11 * DAY)
    sb.create_origin(world.farm, world.raw_cotton, 10, characteristic=world.organic, model=SEGREGATED)
    sb.advance(10 * DAY)
    fn = origin_fn(sb, world.farm, world.raw_cotton, 10, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, world.farm, "RegistryCapacityExceeded",
            participantId=fid, material=world.raw_cotton, available=0, requested=10)


def test_setCapacity_change_within_window_keeps_what_was_used(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    farm, raw = world.farm, world.raw_cotton
    sb.capacity(world.certifier, farm, raw, 1_000, days=100)
    sb.create_origin(farm, raw, 600, characteristic=world.organic, model=SEGREGATED)
    # setting the same amount again in the running window grants no fresh allowance
    sb.capacity(world.certifier, farm, raw, 1_000, days=100)
    assert tuple(r.functions.capacity(farm.participant_id, raw).call())[2:] == (1_000, 600)
    fn = origin_fn(sb, farm, raw, 401, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, farm, "RegistryCapacityExceeded",
            participantId=farm.participant_id, material=raw, available=400, requested=401)
    # lowering the amount below what was used leaves nothing available, without underflow
    sb.capacity(world.certifier, farm, raw, 500, days=100)
    fn = origin_fn(sb, farm, raw, 1, characteristic=world.organic, model=SEGREGATED)
    refused(world, accounts, fn, farm, "RegistryCapacityExceeded",
            participantId=farm.participant_id, material=raw, available=0, requested=1)


def test_setCapacity_next_window_starts_from_zero(world, accounts):
    sb, r = world.sb, world.sb.c.registry
    farm, raw = world.farm, world.raw_cotton
    sb.capacity(world.certifier, farm, raw, 1_000, days=100)
    sb.create_origin(farm, raw, 1_000, characteristic=world.organic, model=SEGREGATED)
    now = sb.now()
    tx(r.functions.setCapacity(farm.participant_id, raw, now + 101 * DAY, now + 200 * DAY, 1_000), world.certifier)
    assert tuple(r.functions.capacity(farm.participant_id, raw).call()) == (now + 101 * DAY, now + 200 * DAY, 1_000, 0)
    sb.advance(102 * DAY)
    batch = sb.create_origin(farm, raw, 1_000, characteristic=world.organic, model=SEGREGATED)
    assert sb.balance(farm, batch) == 1_000


def test_setCapacity_invalid_window(world, accounts):
    now = world.sb.now()
    fn = world.sb.c.registry.functions.setCapacity(world.farm.participant_id, world.raw_cotton, now, now, 1)
    refused(world, accounts, fn, world.certifier, "RegistryInvalidCapacity", field="validTo")


def test_setCapacity_unknown_participant_or_material(world, accounts):
    now = world.sb.now()
    r = world.sb.c.registry.functions
    refused(world, accounts, r.setCapacity(999, world.raw_cotton, now, now + DAY, 1), world.certifier,
            "RegistryUnknownParticipant", participantId=999)
    refused(world, accounts, r.setCapacity(world.farm.participant_id, 99, now, now + DAY, 1), world.certifier,
            "RegistryUnknownMaterial", material=99)


def test_setCapacity_by_non_certifier(world, accounts):
    now = world.sb.now()
    fn = world.sb.c.registry.functions.setCapacity(world.farm.participant_id, world.raw_cotton, now, now + DAY, 10**15)
    refused(world, accounts, fn, world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_CERTIFIER | ROLE_ADMIN)


# ---------------------------------------------------------------------------------------------- ERC-2771 relaying


def forward_request(sb, signer, target, data: bytes, *, gas=400_000):
    """An ERC-2771 ForwardRequestData for `data` on `target`, signed by `signer`."""
    fwd = sb.c.forwarder
    nonce = fwd.functions.nonces(signer.address).call()
    deadline = sb.now() + 3600
    typed = forward_request_typed_data(
        sb.chain_id, fwd.address, sender=signer.address, to=target.address, data=data, nonce=nonce,
        deadline=deadline, gas=gas,
    )
    signature = sign_typed(signer.key, typed)
    return (signer.address, target.address, 0, gas, deadline, data, signature)


def encoded(contract, name, *args) -> bytes:
    return bytes.fromhex(contract.encode_abi(name, args=list(args))[2:])


def test_registerParticipant_relayed_through_forwarder_acts_for_signer(world, accounts):
    """The registry trusts the consortium's ERC-2771 forwarder: the admin's signed request, paid by an
    unregistered relayer, is the admin's action (the forwarder's own refusals: test_forwarder.py)."""
    sb, r = world.sb, world.sb.c.registry
    n = r.functions.counts().call()[0]
    request = forward_request(sb, sb.admin, r, encoded(r, "registerParticipant", "Relayed Co", ROLE_SUPPLIER))
    receipt = tx(sb.c.forwarder.functions.execute(request), sb.relayer)
    assert events(r, receipt, "ParticipantRegistered") == [
        {"participantId": n + 1, "name": "Relayed Co", "roles": ROLE_SUPPLIER}
    ]
    assert sb.c.forwarder.functions.nonces(sb.admin.address).call() == 1
