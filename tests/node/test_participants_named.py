"""Participants by name (GET /participants/{id}, /participants/wallets/{address}) and the site-0 rule as the
node answers it: a supplier's or brand's wallet bound to no site is refused with a 422 naming siteId,
whichever way it comes (prepare, node-signed, a request signed elsewhere), and changes nothing."""

from __future__ import annotations

from eth_account import Account

from nodeserver import ADMIN_KEY
from nodehelp import actor, assert_refused, forward_body

ADMIN = {"X-Admin-Key": ADMIN_KEY}
SUPPLIER, CERTIFIER, BRAND = 4, 2, 32


def test_participant_has_name_roles_and_sites(api, demo):
    r = api.get(f"/participants/{demo.participants['farm']}")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["name"] == "Organic Cotton Farm, Gujarat"
    assert p["roles"] == SUPPLIER and p["roleNames"] == ["supplier"]
    assert p["status"] == 1 and p["statusName"] == "active"
    assert [s["name"] for s in p["sites"]] == ["Farm Gujarat"] and p["sites"][0]["siteId"] == demo.sites["farm"]
    cu = api.get(f"/participants/{demo.participants['control_union']}").json()
    assert cu["name"] == "Control Union Certifications" and cu["roleNames"] == ["certifier"] and cu["sites"] == []
    w = api.get(f"/participants/wallets/{demo.addresses['farm']}").json()
    assert w["name"] == "Organic Cotton Farm, Gujarat" and w["siteName"] == "Farm Gujarat" and w["roleNames"] == ["supplier"]
    assert_refused(api.get("/participants/999999"), 404, "RegistryUnknownParticipant")


def _admin(api, path, **params):
    r = api.post(f"/{path}", json=params, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_add_wallet_site_zero_refused_for_supplier_and_brand(api, demo, server, chain):
    admin = server.node.accounts.admin()
    for roles in (SUPPLIER, BRAND, SUPPLIER | CERTIFIER):
        pid = _admin(api, "participants/register", name=f"Site-less {roles}", roles=roles)["participantId"]
        newcomer = Account.create()
        body = {"wallet": newcomer.address, "participantId": pid, "siteId": 0}
        # prepare: refused before anything is signed
        b = assert_refused(api.post("/participants/add-wallet/prepare", json={"signer": admin.address, **body}),
                           422, "RegistryWalletNeedsSite", "siteId", "add-site")
        assert b["details"]["field"] == "siteId"
        # node-signed (the admin key)
        b = assert_refused(api.post("/participants/add-wallet", json=body, headers=ADMIN), 422, "RegistryWalletNeedsSite")
        assert b["details"]["field"] == "siteId"
        # a request signed elsewhere, straight to submit
        node = server.node
        fwd = forward_body(node, admin, "ParticipantRegistry", "addWallet", newcomer.address, pid, 0)
        assert_refused(api.post("/participants/add-wallet/submit", json=fwd), 422, "RegistryWalletNeedsSite")
        assert tuple(chain.registry.functions.wallet(newcomer.address).call()) == (0, 0)
        # with a site it binds
        site = _admin(api, "participants/add-site", participantId=pid, name=f"Plant {roles}", locationRef="x")["siteId"]
        _admin(api, "participants/add-wallet", wallet=newcomer.address, participantId=pid, siteId=site)
        assert tuple(chain.registry.functions.wallet(newcomer.address).call()) == (pid, site)


def test_add_wallet_site_zero_allowed_for_a_certifier_and_roles_guarded(api, demo, chain):
    pid = _admin(api, "participants/register", name="Office-less Certifier", roles=CERTIFIER)["participantId"]
    w = Account.create()
    _admin(api, "participants/add-wallet", wallet=w.address, participantId=pid, siteId=0)
    assert tuple(chain.registry.functions.wallet(w.address).call()) == (pid, 0)
    # making it a supplier now would leave a supplier wallet without a site
    b = assert_refused(api.post("/participants/set-roles", json={"participantId": pid, "roles": SUPPLIER | CERTIFIER},
                                headers=ADMIN), 422, "RegistrySitelessWallets", "roles")
    assert b["details"]["field"] == "roles"
    assert chain.registry.functions.participant(pid).call()[0] == CERTIFIER


def test_brand_second_wallet_acts_from_the_brands_site(api, demo):
    w = api.get(f"/participants/wallets/{demo.wallets['brand_2']}").json()
    assert w["siteId"] == demo.sites["brand"] and w["siteName"] == "Brand DC Rotterdam"
    assert actor(demo, "brand").address != demo.wallets["brand_2"]
