"""The node's EUDR service: plots (register, check against the chain, serve to those entitled), a batch's EUDR
facts, due-diligence statements (build, submit to TRACES, record on chain through the caller's wallet)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from pydantic import ValidationError

from ..core.config import Settings
from ..errors import ApiError
from ..services.contracts import Contracts
from .dds import DdsRequest, build_dds, document_hash
from .geo import PlotInvalid, check_plot
from .lineage import LEDGER, Lineage, lineage, statements_of
from .plots import Caller, PlotStore, may_read
from .traces import TracesClient, TracesError

REGISTRY = "ParticipantRegistry"
#: record(batchId, referenceNumber, verificationNumber, documentHash) -> the relayed transaction's answer
Recorder = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(422, "DdsInvalid", f"{field}: {first['msg']}", {"field": field, "rule": first["type"]})


@dataclass
class EudrService:
    contracts: Contracts
    root: Path
    traces: TracesClient | None

    @classmethod
    def from_settings(cls, contracts: Contracts, settings: Settings) -> "EudrService":
        traces = None
        if settings.traces_url:
            traces = TracesClient(settings.traces_url, settings.traces_username, settings.traces_auth_key,
                                  settings.traces_client_id, settings.traces_timeout)
        return cls(contracts, settings.data_dir / "eudr", traces)

    @property
    def plots(self) -> PlotStore:
        return PlotStore(self.root)

    # ------------------------------------------------------------------ who asks
    async def caller(self, address: str | None, admin: bool) -> Caller:
        if admin or address is None:
            return Caller(admin, address)
        w = await self.contracts.view(REGISTRY, "wallet", address)
        pid = int(w["participantId"])
        roles = int((await self.contracts.view(REGISTRY, "participant", pid))["roles"]) if pid else 0
        return Caller(False, address, pid, roles)

    # ------------------------------------------------------------------ plots
    async def register_plot(self, raw: bytes, caller: Caller, origin: int | None) -> dict[str, Any]:
        """Checks and stores a plot file; with ``origin``, the file must be the one that origin recorded."""
        if not caller.admin and not caller.participant_id:
            raise ApiError(403, "PlotAccessDenied", "only a registered participant (or the admin) registers plots")
        try:
            plot = check_plot(raw)
        except PlotInvalid as exc:
            raise ApiError(422, "PlotInvalid", exc.message, {"field": "body", "rule": exc.rule}) from None
        if origin is not None:
            b = await self.contracts.view(LEDGER, "batch", origin)
            o = await self.contracts.view(LEDGER, "origin", origin)
            on_chain = "0x" + bytes(o["geolocationHash"]).hex() if isinstance(o["geolocationHash"], (bytes, bytearray)) \
                else str(o["geolocationHash"]).lower()
            if not b["createdAt"] or b["kind"] != 0:
                raise ApiError(404, "BatchUnknown", f"batch {origin} is not an origin", {"field": "origin"})
            if on_chain != plot.geolocation_hash:
                raise ApiError(409, "PlotHashMismatch", f"origin {origin} recorded plot hash {on_chain}; this file hashes "
                               f"to {plot.geolocation_hash}", {"field": "body", "onChain": on_chain,
                                                               "file": plot.geolocation_hash})
            if not caller.admin and int(b["creator"]) != caller.participant_id:
                raise ApiError(403, "PlotAccessDenied", f"origin {origin} was created by participant {b['creator']}")
        meta = self.plots.put(plot.geolocation_hash, raw, {
            "registeredBy": caller.participant_id, "wallet": caller.address, "kind": plot.kind,
            "areaHa": plot.area_ha, "declaredAreaHa": plot.declared_area_ha, "country": plot.country,
            "feature": plot.feature})
        return self._public(meta)

    @staticmethod
    def _public(meta: dict[str, Any]) -> dict[str, Any]:
        return {k: meta[k] for k in ("geolocationHash", "registeredBy", "kind", "areaHa", "declaredAreaHa", "country",
                                     "registeredAt")}

    async def plot_file(self, h: str, caller: Caller, batch_id: int | None) -> tuple[bytes, dict[str, Any]]:
        meta = self.plots.meta(h)
        if meta is None:
            raise ApiError(404, "PlotUnknown", f"no plot {h} is registered on this node", {"field": "hash"})
        in_lineage = holds = False
        if batch_id is not None and not caller.admin and caller.participant_id != meta["registeredBy"]:
            lin = await lineage(self.contracts, batch_id)
            in_lineage = h in lin.plot_hashes
            if caller.address:
                holds = int(await self.contracts.view(LEDGER, "balanceOf", caller.address, batch_id)) > 0
        may_read(caller, meta, batch_id=batch_id, lineage_has_plot=in_lineage, holds_batch=holds)
        return self.plots.raw(h), self._public(meta)

    # ------------------------------------------------------------------ batches
    async def batch(self, batch_id: int) -> dict[str, Any]:
        return (await lineage(self.contracts, batch_id)).as_json()

    # ------------------------------------------------------------------ statements
    async def build(self, token_id: int, request: DdsRequest) -> tuple[dict[str, Any], Lineage]:
        """The statement for product ``token_id``: 422 EudrNotTraceable with the reason when its lineage is not
        EUDR-traceable, 422 PlotNotRegistered when a plot's file is not on this node."""
        lin = await lineage(self.contracts, token_id)
        if lin.status != "traceable":
            why = "no origin in its lineage has a plot" if lin.status == "none" else f"traceability ended: {lin.ended_reason}"
            raise ApiError(422, "EudrNotTraceable", f"batch {token_id} is not EUDR-traceable ({why}); no due-diligence "
                           "statement can rely on it", {"batchId": token_id, "eudrStatus": lin.status,
                                                         "reason": lin.ended_reason})
        plots = []
        for h in lin.plot_hashes:
            meta = self.plots.meta(h)
            if meta is None:
                raise ApiError(422, "PlotNotRegistered", f"plot {h} of the lineage has no GeoJSON file on this node: "
                               "register it (POST /eudr/plots)", {"field": "geolocation", "geolocationHash": h})
            plots.append({"hash": h, "country": meta["country"], "feature": meta["feature"]})
        try:
            doc = build_dds(request, token_id=token_id, chain_id=self.contracts.chain_id, ledger=self.contracts.ledger,
                            plots=plots, references=lin.dds_references())
        except ValidationError as exc:
            raise _validation_error(exc) from None
        return doc, lin

    def _traces(self) -> TracesClient:
        if self.traces is None:
            raise ApiError(503, "TracesNotConfigured", "no TRACES endpoint is configured on this node (COC_TRACES_URL)")
        return self.traces

    async def _traces_call(self, coro: Awaitable[dict[str, str]]) -> dict[str, str]:
        try:
            return await coro
        except TracesError as exc:
            if exc.code.startswith("soapenv:Client") or exc.code.startswith("soap:Client"):
                raise ApiError(422, "TracesRefused", exc.message, {"faultcode": exc.code}) from None
            raise ApiError(502, "TracesUnavailable", exc.message, {"faultcode": exc.code}) from None

    async def submit(self, token_id: int, request: DdsRequest, record: Recorder) -> dict[str, Any]:
        traces = self._traces()
        doc, _ = await self.build(token_id, request)
        info = await self._traces_call(traces.submit(doc))
        doc_hash = document_hash(doc)
        tx = await record({"batchId": token_id, "referenceNumber": info["referenceNumber"],
                           "verificationNumber": info["verificationNumber"], "documentHash": doc_hash})
        self._save(token_id, doc_hash, doc, info)
        return {"tokenId": token_id, **info, "documentHash": doc_hash, "statement": doc, "transaction": tx}

    async def amend(self, token_id: int, index: int, request: DdsRequest, record: Recorder) -> dict[str, Any]:
        traces = self._traces()
        st = await self._statement(token_id, index)
        doc, _ = await self.build(token_id, request)
        info = await self._traces_call(traces.amend(self._identifier(token_id, st["referenceNumber"]), doc))
        doc_hash = document_hash(doc)
        tx = await record({"batchId": token_id, "index": index, "verificationNumber": info["verificationNumber"],
                           "documentHash": doc_hash})
        self._save(token_id, doc_hash, doc, info)
        return {"tokenId": token_id, "index": index, **info, "documentHash": doc_hash, "statement": doc, "transaction": tx}

    async def retract(self, token_id: int, index: int, record: Recorder) -> dict[str, Any]:
        traces = self._traces()
        st = await self._statement(token_id, index)
        info = await self._traces_call(traces.retract(self._identifier(token_id, st["referenceNumber"])))
        tx = await record({"batchId": token_id, "index": index})
        return {"tokenId": token_id, "index": index, **info, "transaction": tx}

    async def info(self, token_id: int, index: int) -> dict[str, Any]:
        st = await self._statement(token_id, index)
        live = await self._traces_call(self._traces().info(self._identifier(token_id, st["referenceNumber"])))
        return {"tokenId": token_id, "index": index, "recorded": st, "traces": live}

    async def statements(self, token_id: int) -> dict[str, Any]:
        """The product's statements as the chain records them, with the documents this node submitted, and every
        DDS reference of its inputs (through the lineage)."""
        lin = await lineage(self.contracts, token_id)
        own = await statements_of(self.contracts, token_id)
        for st in own:
            st["document"] = self._load(st["documentHash"])
        return {"tokenId": token_id, "eudrStatus": lin.status, "endedReason": lin.ended_reason, "statements": own,
                "inputReferences": [r for r in lin.dds_references() if r["batchId"] != token_id]}

    async def _statement(self, token_id: int, index: int) -> dict[str, Any]:
        rows = await statements_of(self.contracts, token_id)
        if index >= len(rows):
            raise ApiError(404, "DdsUnknown", f"batch {token_id} has no statement {index}", {"field": "index"})
        return rows[index]

    # ------------------------------------------------------------------ documents kept by this node
    def _dir(self) -> Path:
        d = self.root / "dds"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _save(self, token_id: int, doc_hash: str, doc: dict[str, Any], info: dict[str, str]) -> None:
        (self._dir() / f"{doc_hash[2:]}.json").write_text(json.dumps(doc, sort_keys=True))
        idx = self._dir() / f"token-{token_id}.json"
        known = json.loads(idx.read_text()) if idx.exists() else {}
        known[info["referenceNumber"]] = info["identifier"]
        tmp = idx.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, sort_keys=True))
        os.replace(tmp, idx)

    def _load(self, doc_hash: str) -> dict[str, Any] | None:
        p = self._dir() / f"{doc_hash[2:]}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def _identifier(self, token_id: int, reference: str) -> str:
        idx = self._dir() / f"token-{token_id}.json"
        known = json.loads(idx.read_text()) if idx.exists() else {}
        if reference not in known:
            raise ApiError(409, "DdsNotSubmittedHere", f"statement {reference} was not submitted through this node; "
                           "its TRACES identifier is unknown here", {"referenceNumber": reference})
        return known[reference]
