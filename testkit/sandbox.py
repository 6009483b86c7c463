"""A consortium on a deployed ledger, driven with real keys: for tests, benchmarks and demos.

`Sandbox` wraps the five contracts and signs every action with the acting participant's own
key: custody messages as EIP-712 typed data (relayed by a separate, unregistered relayer, so the
contracts can only ever trust the signer), everything else as the participant's own transaction.
It holds no rule of the ledger: it only builds calls, so every refusal comes from the chain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from node_api.core.chain import send_tx
from node_api.signing import (
    CustodyTransfer,
    accept_typed_data,
    cancel_typed_data,
    reject_typed_data,
    sign_typed,
    transfer_typed_data,
)

DAY = 86_400

# ISO 22095 models, in the contracts' enum order (weakest first).
UNCERTIFIED, MASS_BALANCE, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED = range(5)
MODEL_NAMES = ["uncertified", "mass balance", "controlled blending", "segregated", "identity preserved"]
ALL_MODELS = 0b11110  # certification bits for every certified model

ROLE_ADMIN, ROLE_CERTIFIER, ROLE_SUPPLIER, ROLE_ISSUER, ROLE_AUDITOR, ROLE_BRAND = 1, 2, 4, 8, 16, 32
PPM = 1_000_000


def models_mask(*models: int) -> int:
    return sum(1 << m for m in models)


def h(text: str) -> bytes:
    """A 32-byte hash standing for an off-chain document (evidence, GeoJSON, purpose)."""
    return keccak(text=text)


@dataclass
class Actor:
    name: str
    account: LocalAccount
    participant_id: int
    site_id: int
    roles: int

    @property
    def address(self) -> str:
        return self.account.address


@dataclass
class Contracts:
    registry: Any
    forwarder: Any
    mass_balance: Any
    ledger: Any
    certificates: Any
    deploy_block: int = 0


@dataclass
class Sandbox:
    w3: Web3
    c: Contracts
    admin: LocalAccount
    relayer: LocalAccount
    actors: dict[str, Actor] = field(default_factory=dict)
    _evidence_counter: int = 0

    # ------------------------------------------------------------------ plumbing
    @property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def tx(self, fn: Any, sender: Actor | LocalAccount, **overrides: Any) -> Any:
        account = sender.account if isinstance(sender, Actor) else sender
        return send_tx(self.w3, fn, account, **overrides)

    def events(self, receipt: Any, contract: Any, name: str) -> list[dict[str, Any]]:
        return [dict(e["args"]) for e in getattr(contract.events, name)().process_receipt(receipt, errors=_DISCARD)]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        """Moves chain time forward (Anvil): the next block is `seconds` later."""
        self.w3.provider.make_request("evm_increaseTime", [int(seconds)])
        self.w3.provider.make_request("evm_mine", [])

    def next_evidence(self, label: str = "evidence") -> bytes:
        self._evidence_counter += 1
        return h(f"{label}-{self._evidence_counter}-{time.time_ns()}")

    # ------------------------------------------------------------------ reference data and participants
    def participant(self, name: str, roles: int, account: LocalAccount, *, site: str | None = None) -> Actor:
        r = self.c.registry
        receipt = self.tx(r.functions.registerParticipant(name, roles), self.admin)
        pid = self.events(receipt, r, "ParticipantRegistered")[0]["participantId"]
        site_id = 0
        if site is not None:
            receipt = self.tx(r.functions.addSite(pid, site, h(f"location:{site}")), self.admin)
            site_id = self.events(receipt, r, "SiteAdded")[0]["siteId"]
        self.tx(r.functions.addWallet(account.address, pid, site_id), self.admin)
        actor = Actor(name, account, pid, site_id, roles)
        self.actors[name] = actor
        return actor

    def add_wallet(self, actor: Actor, account: LocalAccount, *, site: str | None = None) -> Actor:
        """A further wallet of the same participant, optionally at a new site."""
        r = self.c.registry
        site_id = actor.site_id
        if site is not None:
            receipt = self.tx(r.functions.addSite(actor.participant_id, site, h(f"location:{site}")), self.admin)
            site_id = self.events(receipt, r, "SiteAdded")[0]["siteId"]
        # The participant's consent: its own wallet binds the further one (the admin alone binds only a
        # participant's first wallet, at onboarding).
        self.tx(r.functions.addWallet(account.address, actor.participant_id, site_id), actor.account)
        return Actor(f"{actor.name}@{site or site_id}", account, actor.participant_id, site_id, actor.roles)

    def material(self, name: str, *, unit: str = "g", group: int = 0, waste: bool = False) -> int:
        receipt = self.tx(self.c.registry.functions.registerMaterial(name, unit, group, waste), self.admin)
        return self.events(receipt, self.c.registry, "MaterialRegistered")[0]["material"]

    def scheme(self, name: str, *, period_length: int = 90 * DAY, anchor: int | None = None, lapse_after: int = 0) -> int:
        anchor = self.now() if anchor is None else anchor
        receipt = self.tx(self.c.registry.functions.registerScheme(name, period_length, anchor, lapse_after), self.admin)
        return self.events(receipt, self.c.registry, "SchemeRegistered")[0]["scheme"]

    def characteristic(self, name: str, scheme: int) -> int:
        receipt = self.tx(self.c.registry.functions.registerCharacteristic(name, scheme), self.admin)
        return self.events(receipt, self.c.registry, "CharacteristicRegistered")[0]["characteristic"]

    def process(self, name: str, input_material: int, output_material: int, factor: int, tolerance: int) -> int:
        fn = self.c.registry.functions.registerProcess(name, input_material, output_material, factor, tolerance)
        receipt = self.tx(fn, self.admin)
        return self.events(receipt, self.c.registry, "ProcessRegistered")[0]["processId"]

    def certify(
        self,
        certifier: Actor,
        holder: Actor,
        materials: Iterable[int],
        characteristics: Iterable[int],
        models: int = ALL_MODELS,
        *,
        scheme: str = "GOTS",
        number: str | None = None,
        valid_from: int | None = None,
        valid_to: int | None = None,
    ) -> int:
        now = self.now()
        params = (
            holder.participant_id,
            scheme,
            number or f"{scheme}-{holder.participant_id}-{now}-{self._bump()}",
            list(materials),
            list(characteristics),
            models,
            now - DAY if valid_from is None else valid_from,
            now + 365 * DAY if valid_to is None else valid_to,
        )
        receipt = self.tx(self.c.registry.functions.recordCertification(params), certifier)
        return self.events(receipt, self.c.registry, "CertificationRecorded")[0]["certificationId"]

    def capacity(self, certifier: Actor, holder: Actor, material: int, amount: int, *, days: int = 365) -> None:
        now = self.now()
        fn = self.c.registry.functions.setCapacity(holder.participant_id, material, now - DAY, now + days * DAY, amount)
        self.tx(fn, certifier)

    def _bump(self) -> int:
        self._evidence_counter += 1
        return self._evidence_counter

    # ------------------------------------------------------------------ batches
    def origin_params(
        self,
        actor: Actor,
        material: int,
        quantity: int,
        *,
        characteristic: int = 0,
        model: int = UNCERTIFIED,
        share: int | None = None,
        production_date: int | None = None,
        evidence: bytes | None = None,
    ) -> tuple:
        """createOrigin's OriginParams tuple, with fresh evidence and the share the model implies."""
        if share is None:
            share = PPM if model >= SEGREGATED else 0
        return (
            material,
            characteristic,
            model,
            share,
            quantity,
            h(f"geojson:{actor.name}:{material}"),
            f"EUDR-DDS-{actor.participant_id}-{self._bump()}",
            evidence or self.next_evidence("harvest"),
            self.now() - DAY if production_date is None else production_date,
        )

    def create_origin(self, actor: Actor, material: int, quantity: int, **kwargs: Any) -> int:
        """Creates an origin batch held by `actor` (keywords as for origin_params); returns its id."""
        params = self.origin_params(actor, material, quantity, **kwargs)
        receipt = self.tx(self.c.ledger.functions.createOrigin(params), actor)
        return self.events(receipt, self.c.ledger, "BatchCreated")[0]["batchId"]

    def offer(
        self,
        sender: Actor,
        receiver: Actor | str,
        batch_id: int,
        quantity: int,
        *,
        certified: int = 0,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> CustodyTransfer:
        to = receiver.address if isinstance(receiver, Actor) else receiver
        return CustodyTransfer(
            batchId=batch_id,
            from_=sender.address,
            to=to,
            quantity=quantity,
            certifiedQuantity=certified,
            nonce=self.c.ledger.functions.nonces(sender.address).call() if nonce is None else nonce,
            deadline=self.now() + 3600 if deadline is None else deadline,
        )

    def sign_offer(self, signer: Actor | LocalAccount, t: CustodyTransfer, *, chain_id: int | None = None,
                   ledger: str | None = None) -> bytes:
        account = signer.account if isinstance(signer, Actor) else signer
        typed = transfer_typed_data(chain_id or self.chain_id, ledger or self.c.ledger.address, t)
        return sign_typed(account.key, typed)

    def sign_accept(self, signer: Actor | LocalAccount, t: CustodyTransfer, deadline: int) -> bytes:
        account = signer.account if isinstance(signer, Actor) else signer
        return sign_typed(account.key, accept_typed_data(self.chain_id, self.c.ledger.address, t, deadline))

    def sign_reject(self, signer: Actor | LocalAccount, t: CustodyTransfer, deadline: int) -> bytes:
        account = signer.account if isinstance(signer, Actor) else signer
        return sign_typed(account.key, reject_typed_data(self.chain_id, self.c.ledger.address, t, deadline))

    def sign_cancel(self, signer: Actor | LocalAccount, t: CustodyTransfer, deadline: int) -> bytes:
        account = signer.account if isinstance(signer, Actor) else signer
        return sign_typed(account.key, cancel_typed_data(self.chain_id, self.c.ledger.address, t, deadline))

    def transfer(self, sender: Actor, receiver: Actor, batch_id: int, quantity: int, *, certified: int = 0) -> bytes:
        """A custody transfer that the receiver agrees to up front: both signatures, one transaction."""
        t = self.offer(sender, receiver, batch_id, quantity, certified=certified)
        deadline = self.now() + 3600
        fn = self.c.ledger.functions.transferWithAcceptance(
            t.as_tuple(), self.sign_offer(sender, t), deadline, self.sign_accept(receiver, t, deadline)
        )
        self.tx(fn, self.relayer)
        return t.transfer_id()

    def propose(self, sender: Actor, receiver: Actor, batch_id: int, quantity: int, *, certified: int = 0) -> CustodyTransfer:
        t = self.offer(sender, receiver, batch_id, quantity, certified=certified)
        self.tx(self.c.ledger.functions.proposeTransfer(t.as_tuple(), self.sign_offer(sender, t)), self.relayer)
        return t

    def accept(self, receiver: Actor, t: CustodyTransfer) -> None:
        deadline = self.now() + 3600
        fn = self.c.ledger.functions.acceptTransfer(t.as_tuple(), deadline, self.sign_accept(receiver, t, deadline))
        self.tx(fn, self.relayer)

    def reject(self, receiver: Actor, t: CustodyTransfer) -> None:
        deadline = self.now() + 3600
        fn = self.c.ledger.functions.rejectTransfer(t.as_tuple(), deadline, self.sign_reject(receiver, t, deadline))
        self.tx(fn, self.relayer)

    def cancel(self, sender: Actor, t: CustodyTransfer) -> None:
        deadline = self.now() + 3600
        fn = self.c.ledger.functions.cancelTransfer(t.as_tuple(), deadline, self.sign_cancel(sender, t, deadline))
        self.tx(fn, self.relayer)

    def split(self, actor: Actor, batch_id: int, quantities: list[int]) -> list[int]:
        receipt = self.tx(self.c.ledger.functions.split(batch_id, quantities), actor)
        return [e["batchId"] for e in self.events(receipt, self.c.ledger, "BatchCreated")]

    def merge(self, actor: Actor, batch_ids: list[int], quantities: list[int], model: int) -> int:
        receipt = self.tx(self.c.ledger.functions.merge(batch_ids, quantities, model), actor)
        return self.events(receipt, self.c.ledger, "BatchCreated")[0]["batchId"]

    def transform(
        self,
        actor: Actor,
        process_id: int,
        batch_ids: list[int],
        quantities: list[int],
        output: int,
        model: int,
        credits: int = 0,
    ) -> int:
        fn = self.c.ledger.functions.transform(process_id, batch_ids, quantities, output, model, credits)
        receipt = self.tx(fn, actor)
        return self.events(receipt, self.c.ledger, "BatchCreated")[0]["batchId"]

    def consume(self, actor: Actor, batch_id: int, quantity: int, reason: int = 0) -> None:
        self.tx(self.c.ledger.functions.consume(batch_id, quantity, reason, h("sale")), actor)

    def balance(self, who: Actor | str, batch_id: int) -> int:
        address = who.address if isinstance(who, Actor) else who
        return self.c.ledger.functions.balanceOf(address, batch_id).call()

    def batch(self, batch_id: int) -> tuple:
        return self.c.ledger.functions.batch(batch_id).call()

    # ------------------------------------------------------------------ mass balance
    def account_key(self, actor: Actor, material: int, characteristic: int) -> bytes:
        return self.c.mass_balance.functions.accountKey(
            actor.participant_id, actor.site_id, material, characteristic
        ).call()

    def credits(self, actor: Actor, material: int, characteristic: int) -> int:
        return self.c.mass_balance.functions.balanceOf(self.account_key(actor, material, characteristic)).call()

    # ------------------------------------------------------------------ book & claim
    def pledge_credits(self, actor: Actor, material: int, characteristic: int, quantity: int) -> int:
        receipt = self.tx(self.c.certificates.functions.pledgeCredits(material, characteristic, quantity), actor)
        return self.events(receipt, self.c.certificates, "AttributesPledged")[0]["pledgeId"]

    def pledge_batch(self, actor: Actor, batch_id: int, quantity: int) -> int:
        receipt = self.tx(self.c.certificates.functions.pledgeBatch(batch_id, quantity), actor)
        return self.events(receipt, self.c.certificates, "AttributesPledged")[0]["pledgeId"]

    def issue(
        self,
        issuer: Actor,
        producer: Actor,
        to: Actor,
        amount: int,
        *,
        unit_size: int = 1_000_000,
        unit_label: str = "1 t",
        material: int = 1,
        characteristic: int = 1,
        evidence: bytes | None = None,
        pledge_id: int = 0,
        period: tuple[int, int] | None = None,
    ) -> int:
        start, end = period or (self.now() - 30 * DAY, self.now())
        params = (
            producer.participant_id,
            to.address,
            amount,
            unit_size,
            unit_label,
            material,
            characteristic,
            start,
            end,
            evidence or self.next_evidence("production-record"),
            pledge_id,
        )
        receipt = self.tx(self.c.certificates.functions.issue(params), issuer)
        return self.events(receipt, self.c.certificates, "CertificatesIssued")[0]["certificateId"]

    def retire(self, holder: Actor, certificate_id: int, amount: int, beneficiary: str = "Brand Ltd") -> int:
        now = self.now()
        fn = self.c.certificates.functions.retire(
            certificate_id, amount, beneficiary, now - 90 * DAY, now, h(f"purpose:{beneficiary}")
        )
        receipt = self.tx(fn, holder)
        return self.events(receipt, self.c.certificates, "CertificatesRetired")[0]["retirementId"]


class _Discard:
    pass


try:  # web3 7: processing other contracts' logs in a receipt must not warn or fail
    from web3.logs import DISCARD as _DISCARD  # type: ignore
except ImportError:  # pragma: no cover
    _DISCARD = _Discard()


@dataclass
class World:
    """A small textile consortium: who is who and the reference data ids."""

    sb: Sandbox
    certifier: Actor
    farm: Actor
    farm2: Actor
    ginner: Actor
    spinner: Actor
    brand: Actor
    issuer: Actor
    auditor: Actor
    trader: Actor  # a registered supplier without any certification
    raw_cotton: int
    lint: int
    yarn: int
    cotton_waste: int
    gots: int
    iscc: int
    organic: int
    recycled: int
    ginning: int
    spinning: int
    waste_spinning: int
    certifications: dict[str, int] = field(default_factory=dict)


def build_world(sb: Sandbox, accounts: list[LocalAccount]) -> World:
    """Registers the textile consortium on a fresh deployment (accounts[0] is the admin,
    accounts[1..9] become participants)."""
    certifier = sb.participant("Control Union", ROLE_CERTIFIER, accounts[1])
    farm = sb.participant("Organic Farm Co", ROLE_SUPPLIER, accounts[2], site="Farm Gujarat")
    farm2 = sb.participant("Second Farm Ltd", ROLE_SUPPLIER, accounts[3], site="Farm Izmir")
    ginner = sb.participant("Ginning Mill", ROLE_SUPPLIER, accounts[4], site="Gin Rajkot")
    spinner = sb.participant("Spinning Mill", ROLE_SUPPLIER, accounts[5], site="Spinner Tiruppur")
    brand = sb.participant("Brand Ltd", ROLE_BRAND, accounts[6], site="Brand DC Rotterdam")
    issuer = sb.participant("Textile Registry", ROLE_ISSUER, accounts[7])
    auditor = sb.participant("Audit GmbH", ROLE_AUDITOR, accounts[8])
    trader = sb.participant("Uncertified Trader", ROLE_SUPPLIER, accounts[9], site="Trader Dhaka")

    raw = sb.material("seed cotton", group=1)
    lint = sb.material("cotton lint", group=2)
    yarn = sb.material("cotton yarn", group=3)
    waste = sb.material("cotton comber waste", group=2, waste=True)
    gots = sb.scheme("GOTS")
    iscc = sb.scheme("ISCC PLUS")
    organic = sb.characteristic("organic", gots)
    recycled = sb.characteristic("recycled", iscc)
    ginning = sb.process("ginning", raw, lint, 350_000, 50_000)
    spinning = sb.process("spinning", lint, yarn, 850_000, 50_000)
    waste_spinning = sb.process("waste spinning", waste, yarn, 800_000, 100_000)

    world = World(
        sb, certifier, farm, farm2, ginner, spinner, brand, issuer, auditor, trader,
        raw, lint, yarn, waste, gots, iscc, organic, recycled, ginning, spinning, waste_spinning,
    )
    everything = [raw, lint, yarn, waste]
    for actor in (farm, farm2, ginner, spinner, brand):
        world.certifications[actor.name] = sb.certify(certifier, actor, everything, [organic, recycled])
    for actor in (farm, farm2):
        sb.capacity(certifier, actor, raw, 10**12)
    return world
