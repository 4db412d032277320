"""The console's pages: server-rendered (Jinja2) with a little vanilla JavaScript, no build step.

Every page but the login needs a session; every state-changing form carries the session's CSRF token;
every platform call is made for the enterprise the user chose among their own, with that enterprise's
API key, so the declaration APIs' tenancy rules decide what is declared and read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from cbec.declaration.doctypes import BY_CODE, DocType
from cbec.declaration.strategies import PRESETS
from cbec.tenants import Role, TenantRegistry, UnknownTenant
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from console_service import batches as batch_store
from console_service import handoff, importing, milestones, operator_view, roles, tax
from console_service.accounts import Accounts, Environment, Passwords
from console_service.checks import core_findings
from console_service.consumer_lag import LagSampler
from console_service.onboarding import Onboarding
from console_service.operator_stats import StatsSource
from console_service.platform import NoKey, Platform, Reply
from console_service.web import (
    CSRF_HEADER,
    Context,
    CsrfFailed,
    Forbidden,
    LoginRequired,
    NotFound,
    anonymous,
    check_csrf,
    check_form_csrf,
    context,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PAGE = 20
PLATFORM_OWNED = ("guid", "appType", "appTime", "appStatus")

ROLE_DOCS = roles.QUERIES  # what each role searches (roles.DECLARES: what it declares through forms)


@dataclass
class ConsoleConfig:
    session_secret: str
    tenants: TenantRegistry
    accounts: Accounts
    platforms: dict[Environment, Platform | None]
    passwords: Passwords = field(default_factory=Passwords)
    https_only: bool = True
    session_hours: int = 8
    onboarding: Onboarding = field(default_factory=Onboarding)
    operator_stats: dict[Environment, StatsSource] = field(default_factory=dict)  # the operator view's tables
    consumer_lag: dict[Environment, LagSampler] = field(default_factory=dict)  # the operator view's group lag
    workbench: batch_store.Workbench = field(default_factory=batch_store.Workbench)  # drafts and batches
    handoffs: handoff.HandOffs = field(default_factory=handoff.HandOffs)  # 运单准备 parcels


def doc_types_for(tenants: TenantRegistry, enterprise: str) -> list[str]:
    """The types the enterprise searches: those its roles declare or are a party to."""
    try:
        return roles.queryable(tenants.get(enterprise).roles)
    except UnknownTenant:
        return []


def declarable_for(tenants: TenantRegistry, enterprise: str) -> list[str]:
    """The types the enterprise declares through the console's forms (its roles' menu)."""
    try:
        return roles.declarable(tenants.get(enterprise).roles)
    except UnknownTenant:
        return []


def create_app(config: ConsoleConfig) -> FastAPI:
    api = FastAPI(title="cbec console", docs_url=None, redoc_url=None, openapi_url=None)
    api.add_middleware(SessionMiddleware, secret_key=config.session_secret, session_cookie="cbec_console",
                       max_age=config.session_hours * 3600, same_site="strict", https_only=config.https_only)
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    bench = config.workbench
    handoffs = config.handoffs
    running: set[asyncio.Task[None]] = set()
    accounts = config.accounts

    def render(ctx: Context, page: str, status: int = 200, **values: Any) -> HTMLResponse:
        tenant_names = {t.customs_code: t.name for t in config.tenants.all()}
        held = config.tenants.get(ctx.enterprise).roles if ctx.enterprise in config.tenants else frozenset()
        return templates.TemplateResponse(ctx.request, page, {
            "ctx": ctx, "t": ctx.t, "names": tenant_names, "menu": roles.declarable(held),
            "show_handoff": bool(held & {Role.DECLARANT, Role.LOGISTICS}), **values}, status_code=status)

    def platform_of(ctx: Context) -> Platform:
        """The platform of the enterprise's environment: a sandbox enterprise only ever gets the sandbox."""
        chosen = config.platforms.get(ctx.environment)
        if chosen is None or chosen.environment != ctx.environment:
            raise NotFound()
        return chosen

    @api.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "login required"}, 401)
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)

    @api.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        return render(anonymous(request), "message.html", 403, message="forbidden")

    @api.exception_handler(NotFound)
    async def not_found(request: Request, _: NotFound) -> Response:
        return render(anonymous(request), "message.html", 404, message="notfound")

    @api.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _: CsrfFailed) -> Response:
        return render(anonymous(request), "message.html", 403, message="csrf")

    @api.exception_handler(NoKey)
    async def no_key(request: Request, _: NoKey) -> Response:
        return render(anonymous(request), "message.html", 403, message="forbidden")

    def ctx_of(request: Request) -> Context:
        return context(request, accounts)

    # -- session ---------------------------------------------------------------------------------
    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/documents") -> HTMLResponse:  # noqa: A002
        return render(anonymous(request), "login.html", next=_local(next))

    @api.post("/login")
    async def login(request: Request) -> Response:
        form = await check_form_csrf(request)
        username, password = str(form.get("username", ""))[:100], str(form.get("password", ""))[:200]
        user = accounts.user(username)
        if not config.passwords.check(user, password):
            log.info("console: a login failed")  # never the name tried
            return render(anonymous(request), "login.html", 401, next=_local(str(form.get("next", ""))),
                          failed=True)
        request.session.clear()  # a new session (and CSRF token) for the signed-in user
        request.session["user"] = username
        return RedirectResponse(_local(str(form.get("next", ""))), 303)

    @api.post("/logout")
    async def logout(request: Request) -> Response:
        await check_form_csrf(request)
        request.session.clear()
        return RedirectResponse("/login", 303)

    @api.get("/lang/{lang}")
    def switch_language(lang: str, next: str = "/documents") -> Response:  # noqa: A002
        response = RedirectResponse(_local(next), 303)
        response.set_cookie("lang", "en" if lang == "en" else "zh", max_age=365 * 86400, samesite="strict")
        return response

    @api.post("/enterprise")
    async def switch_enterprise(request: Request) -> Response:
        ctx = ctx_of(request)
        form = await check_form_csrf(request)
        chosen = str(form.get("enterprise", ""))
        if ctx.user is None or chosen not in ctx.user.memberships:
            raise Forbidden()
        request.session["enterprise"] = chosen
        return RedirectResponse("/documents", 303)

    @api.get("/")
    def home() -> Response:
        return RedirectResponse("/documents", 303)

    # -- documents -------------------------------------------------------------------------------
    @api.get("/documents", response_class=HTMLResponse)
    async def documents(request: Request, docType: str = "", status: str = "", number: str = "",  # noqa: N803
                        dateFrom: str = "", dateTo: str = "", cursor: str = "") -> Response:  # noqa: N803
        ctx = ctx_of(request)
        kinds = doc_types_for(config.tenants, ctx.enterprise)
        doc_type = docType if docType in kinds else (kinds[0] if kinds else "")
        filters = {"status": status.strip()[:40], "number": number.strip()[:100]}
        params = {k: v for k, v in filters.items() if v}
        problems: list[str] = []
        for name, value, shift in (("updatedFrom", dateFrom, 0), ("updatedBefore", dateTo, 1)):
            if value:
                try:
                    params[name] = (date.fromisoformat(value) + timedelta(days=shift)).isoformat() + "T00:00:00"
                except ValueError:
                    problems.append(name)
        if cursor:
            params["cursor"] = cursor[:200]
        params["limit"] = str(PAGE)
        reply = await platform_of(ctx).listing(ctx.enterprise, doc_type, params) if doc_type and not problems else \
            Reply(200, {"items": [], "nextCursor": None})
        query = {"docType": doc_type, **filters, "dateFrom": dateFrom, "dateTo": dateTo}
        next_link = None
        if reply.ok and reply.body.get("nextCursor"):
            next_link = "/documents?" + urlencode({**query, "cursor": reply.body["nextCursor"]})
        return render(ctx, "documents.html", kinds=kinds, doc_type=doc_type, query=query,
                      items=reply.body.get("items", []) if reply.ok else [],
                      errors=[] if reply.ok else reply.body.get("errors", []), problems=problems,
                      next_link=next_link, paged=bool(cursor), first_link="/documents?" + urlencode(query))

    @api.get("/clearances/{clearance_key:path}", response_class=HTMLResponse)
    async def clearance(request: Request, clearance_key: str) -> Response:
        ctx = ctx_of(request)
        platform = platform_of(ctx)
        found = []
        for code in BY_CODE:
            try:
                listing = await platform.listing(ctx.enterprise, code, {"clearanceKey": clearance_key[:200],
                                                                      "limit": "50"})
            except LookupError:  # no service of this platform declares the type
                continue
            for row in listing.body.get("items", []) if listing.ok else []:
                detail = await platform.document(ctx.enterprise, code, row["businessKey"])
                if not detail.ok:
                    continue
                view = detail.body
                xml = platform.signed_xml(view["fileName"]) if view.get("fileName") else None
                found.append({"row": row, "view": view, "xml": xml.decode("utf-8", "replace") if xml else None,
                              "key_path": "/".join(quote(p, safe="") for p in row["businessKey"]),
                              "rejected": any(r.get("returnStatus") in (100, -1, "100") for r in view["receipts"])
                              or view.get("phase") in ("rejected", "refused")})
        if not found:
            raise NotFound()
        readable = doc_types_for(config.tenants, ctx.enterprise)
        steps = await milestones.milestones(platform, ctx.enterprise, readable, clearance_key) \
            if milestones.is_export(clearance_key) else []
        menu = declarable_for(config.tenants, ctx.enterprise)
        return render(ctx, "clearance.html", clearance_key=clearance_key, documents=found, milestones=steps,
                      follow_ups={d["row"]["docType"]: [t for t in roles.FOLLOW_UPS.get(d["row"]["docType"], ())
                                                         if t in menu] for d in found})

    def _document_form(document: dict[str, Any], doc_type: str) -> tuple[list[tuple[str, str]], list[Any]]:
        spec = BY_CODE[doc_type]
        head = document.get(spec.head, {}) if spec.head else document
        head_fields = [(f"{spec.head}.{k}", str(v)) for k, v in head.items() if k not in PLATFORM_OWNED
                       and not isinstance(v, (dict, list))]
        lines = []
        for name, value in document.items():
            if isinstance(value, list):
                for n, line in enumerate(value):
                    if isinstance(line, dict):
                        lines.append((n + 1, [(f"{name}.{n}.{k}", str(v)) for k, v in line.items()]))
        return head_fields, lines

    @api.get("/correct/{doc_type}/{key:path}", response_class=HTMLResponse)
    async def correct_page(request: Request, doc_type: str, key: str) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        if doc_type not in BY_CODE:
            raise NotFound()
        reply = await platform_of(ctx).document(ctx.enterprise, doc_type, key.split("/"))
        if not reply.ok or "document" not in reply.body:
            raise NotFound()
        head_fields, lines = _document_form(reply.body["document"], doc_type)
        findings = [e.to_dict() for e in core_findings(doc_type, reply.body["document"])]
        return render(ctx, "correct.html", doc_type=doc_type, key=key, head_fields=head_fields, lines=lines,
                      view=reply.body, findings=findings)

    @api.post("/correct/{doc_type}/{key:path}")
    async def correct(request: Request, doc_type: str, key: str) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        form = await check_form_csrf(request)
        if doc_type not in BY_CODE:
            raise NotFound()
        current = await platform_of(ctx).document(ctx.enterprise, doc_type, key.split("/"))
        if not current.ok:
            raise NotFound()
        document = document_from_form(doc_type, form)
        spec = BY_CODE[doc_type]
        head = document.setdefault(spec.head, {}) if spec.head else document
        head["appType"] = "2"  # a change; the platform decides what customs receives (e.g. 1 after a rejection)
        command: dict[str, Any] = {"commandId": f"console-{uuid.uuid4().hex}", "sender": ctx.enterprise,
                                   "docType": doc_type, "document": document}
        clearance_key = str(current.body.get("clearanceKey", ""))
        if doc_type == "CEB511" and ":" in clearance_key:
            command["ebpCode"] = clearance_key.split(":", 1)[0]
        reply = await platform_of(ctx).declare(ctx.enterprise, command)
        if reply.status in (200, 202):
            return RedirectResponse(f"/clearances/{quote(clearance_key, safe=':')}?resubmitted=1", 303)
        head_fields, lines = _document_form(document, doc_type)
        return render(ctx, "correct.html", 422, doc_type=doc_type, key=key, head_fields=head_fields, lines=lines,
                      view=current.body, findings=reply.body.get("errors", []))

    @api.post("/api/validate/{doc_type}")
    async def validate_api(request: Request, doc_type: str) -> Response:
        ctx = ctx_of(request)
        check_csrf(request, request.headers.get(CSRF_HEADER))
        try:
            body = json.loads((await request.body())[:1_000_000] or b"{}")
        except ValueError:
            return JSONResponse({"errors": [{"code": "CBEC-0001", "path": "$", "message": "not JSON"}]}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"errors": [{"code": "CBEC-0001", "path": "$", "message": "not an object"}]}, 400)
        spec = BY_CODE.get(doc_type)
        if spec is None:
            return JSONResponse({"errors": [e.to_dict() for e in core_findings(doc_type, body)]})
        entry = any(str(k).startswith("cmd.") for k in body)  # an entry form (a correction has no command fields)
        return JSONResponse({"errors": entry_findings(ctx, spec, roles.document_of(spec, body),
                                                      roles.envelope_of(spec, body), entry)})

    def entry_findings(ctx: Context, spec: DocType, document: dict[str, Any], envelope: dict[str, str],
                       entry: bool = True) -> list[dict[str, Any]]:
        """The command's own gaps, then the CEB core's findings on the document as the intake completes it
        (its strategy applied), each with the form field it belongs to."""
        checked, refused = roles.with_strategy(spec, document, envelope, config.tenants, ctx.enterprise) \
            if entry else (document, [])
        found = [*refused, *core_findings(spec.code, checked)]
        return (roles.envelope_findings(spec, envelope) if entry else []) + [
            {**e.to_dict(), "field": roles.field_of(spec, e.path)} for e in found]

    # -- entry forms per role ----------------------------------------------------------------------
    def form_type(ctx: Context, doc_type: str) -> DocType:
        """A type of the enterprise's menu; another role's form is forbidden, whether it exists or not."""
        spec = BY_CODE.get(doc_type)
        if spec is None or doc_type not in declarable_for(config.tenants, ctx.enterprise):
            raise Forbidden()
        return spec

    @api.get("/declare", response_class=HTMLResponse)
    def declare_menu(request: Request) -> Response:
        ctx = ctx_of(request)
        return render(ctx, "declare_menu.html", kinds=declarable_for(config.tenants, ctx.enterprise),
                      queries=doc_types_for(config.tenants, ctx.enterprise))

    @api.get("/declare/{doc_type}", response_class=HTMLResponse)
    async def declare_page(request: Request, doc_type: str, lines: int = 1, source: str = "") -> Response:
        ctx = ctx_of(request)
        spec = form_type(ctx, doc_type)
        ctx.require_writer()
        document: dict[str, Any] = {spec.head: {}} if spec.head else {}
        head = document[spec.head] if spec.head else document
        head.update(roles.defaults(spec, config.tenants.get(ctx.enterprise)))
        source_type, _, source_key = source.partition("/")
        if source_type in doc_types_for(config.tenants, ctx.enterprise) and source_key:
            found = await platform_of(ctx).document(ctx.enterprise, source_type,
                                                    [unquote(p) for p in source_key[:300].split("/")])
            if found.ok and isinstance(found.body.get("document"), dict):
                head.update({k: v for k, v in roles.copied(BY_CODE[source_type], found.body["document"]).items()
                             if k not in head})
        form = roles.build_form(spec, document, {}, min(max(lines, 1), roles.MAX_LINES))
        return render(ctx, "declare.html", form=form, findings=[], source=source[:300])

    @api.post("/declare/{doc_type}")
    async def declare_document(request: Request, doc_type: str) -> Response:
        ctx = ctx_of(request)
        spec = form_type(ctx, doc_type)
        ctx.require_writer()
        form = await check_form_csrf(request)
        document, envelope = roles.document_of(spec, form), roles.envelope_of(spec, form)
        findings = entry_findings(ctx, spec, document, envelope)
        count = len(document.get(spec.lines) or []) if spec.lines else 1
        if form.get("action") == "addline":
            return render(ctx, "declare.html", form=roles.build_form(spec, document, envelope, count + 1),
                          findings=[], source="")
        if not findings:
            command: dict[str, Any] = {"commandId": f"console-{uuid.uuid4().hex}", "sender": ctx.enterprise,
                                       "docType": doc_type, "document": document, **envelope}
            reply = await platform_of(ctx).declare(ctx.enterprise, command)
            if reply.status in (200, 202) and reply.body.get("result") in ("accepted", "duplicate"):
                key = [quote(part, safe="") for part in spec.business_key(document)]
                declared = await platform_of(ctx).document(ctx.enterprise, doc_type, list(spec.business_key(document)))
                clearance_key = str(declared.body.get("clearanceKey", "")) if declared.ok else ""
                if clearance_key:
                    return RedirectResponse(f"/clearances/{quote(clearance_key, safe=':')}?declared={doc_type}", 303)
                return RedirectResponse(f"/documents?docType={doc_type}&number={key[-1]}", 303)
            findings = [{**e, "field": roles.field_of(spec, str(e.get("path", "")))}
                        for e in reply.body.get("errors", [])] or [
                {"code": "CBEC-0502", "path": "$", "message": str(reply.body.get("result", reply.status)), "field": ""}]
        return render(ctx, "declare.html", 422, form=roles.build_form(spec, document, envelope, count),
                      findings=findings, source="")

    # -- batch import ----------------------------------------------------------------------------
    def template_for(ctx: Context, doc_type: str) -> importing.Template:
        """A template of a type the enterprise declares (its entry-form menu); another role's: 403."""
        template = importing.TEMPLATES.get(doc_type)
        if template is None:
            raise NotFound()
        if doc_type not in declarable_for(config.tenants, ctx.enterprise):
            raise Forbidden()
        return template

    @api.get("/import", response_class=HTMLResponse)
    def import_page(request: Request, error: str = "") -> Response:
        ctx = ctx_of(request)
        kinds = [k for k in declarable_for(config.tenants, ctx.enterprise) if k in importing.TEMPLATES]
        return render(ctx, "import.html", kinds=kinds, templates=importing.TEMPLATES, error=error[:300],
                      strategies=list(PRESETS) if any(importing.TEMPLATES[k].strategies for k in kinds) else [],
                      batches=bench.of(ctx.enterprise))

    @api.get("/import/templates/{name}")
    def download_template(request: Request, name: str, headers: str = "") -> Response:
        ctx = ctx_of(request)
        doc_type, _, ext = name.partition(".")
        template = template_for(ctx, doc_type)
        english = headers == "en"  # the English header row (an upload may carry either)
        if ext == "xlsx":
            return Response(importing.template_workbook(template, english),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": f'attachment; filename="{doc_type}-template.xlsx"'})
        if ext == "csv":
            return Response(importing.template_csv(template, english), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{doc_type}-template.csv"'})
        raise NotFound()

    @api.post("/import")
    async def upload(request: Request) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        form = await request.form()
        check_csrf(request, form.get("csrf_token"))
        template = template_for(ctx, str(form.get("docType", "")))
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return RedirectResponse("/import?" + urlencode({"error": ctx.t("import.badFile")}), 303)
        data = await upload.read(importing.MAX_BYTES + 1)
        try:
            rows = importing.read_sheet(template, upload.filename or "", data)
        except importing.BadSheet as bad:
            return RedirectResponse("/import?" + urlencode({"error": f"{ctx.t('import.badFile')}: {bad}"}), 303)
        strategy = str(form.get("strategy", ""))
        if template.strategies and strategy in PRESETS:
            template = replace(template, strategy=strategy)  # this draft's own copy
        assert ctx.user is not None
        draft = bench.add_draft(ctx.user.username, ctx.enterprise, template, upload.filename or "", rows)
        importing.validate_rows(template, rows, config.tenants.get(ctx.enterprise))
        return RedirectResponse(f"/import/drafts/{draft.id}", 303)

    def draft_of(ctx: Context, draft_id: str) -> batch_store.Draft:
        assert ctx.user is not None
        draft = bench.draft(draft_id, ctx.user.username, ctx.enterprise)
        if draft is None:
            raise NotFound()
        return draft

    @api.get("/import/drafts/{draft_id}", response_class=HTMLResponse)
    def draft_page(request: Request, draft_id: str) -> Response:
        ctx = ctx_of(request)
        return render(ctx, "draft.html", draft=draft_of(ctx, draft_id))

    @api.post("/import/drafts/{draft_id}")
    async def revise(request: Request, draft_id: str) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        form = await check_form_csrf(request)
        draft = draft_of(ctx, draft_id)
        headers = draft.template.headers()
        for row in draft.rows:
            row.dropped = f"drop-{row.number}" in form
            for n, header in enumerate(headers):
                name = f"c-{row.number}-{n}"
                if name in form:
                    row.cells[header] = str(form[name]).strip()[:500]
        built = importing.validate_rows(draft.template, draft.rows, config.tenants.get(ctx.enterprise))
        if form.get("action") != "commit" or draft.error_count() or not built:
            bench.save_draft(draft)
            return render(ctx, "draft.html", draft=draft, name=str(form.get("name", ""))[:100])
        name = str(form.get("name", "")).strip()[:100] or draft.filename
        spec = BY_CODE[draft.template.doc_type]
        batch = bench.commit(draft, name, built, spec.business_key)
        task = asyncio.create_task(submit_batch(platform_of(ctx), batch, bench.save_batch))
        running.add(task)  # a reference until it ends (the loop keeps only weak ones)
        task.add_done_callback(running.discard)
        return RedirectResponse(f"/import/batches/{batch.id}", 303)

    def batch_of(ctx: Context, batch_id: str) -> batch_store.Batch:
        batch = bench.batch(batch_id.removesuffix(".json"), ctx.enterprise)
        if batch is None:
            raise NotFound()
        return batch

    @api.get("/import/batches/{batch_id}", response_class=HTMLResponse)
    async def batch_page(request: Request, batch_id: str) -> Response:
        ctx = ctx_of(request)
        batch = batch_of(ctx, batch_id)
        await refresh(platform_of(ctx), batch)
        bench.save_batch(batch)
        if batch_id.endswith(".json"):
            return JSONResponse(batch.to_json())
        return render(ctx, "batch.html", batch=batch, push=batch_store.push_status)

    @api.get("/import/batches/{batch_id}/results.csv")
    def batch_results(request: Request, batch_id: str) -> Response:
        ctx = ctx_of(request)
        batch = batch_of(ctx, batch_id)
        return Response(batch.results_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id[:8]}.csv"'})

    # -- the bonded 运单准备 hand-off ---------------------------------------------------------------
    def roles_of(code: str) -> frozenset[Role]:
        return config.tenants.get(code).roles if code in config.tenants else frozenset()

    @api.get("/handoffs", response_class=HTMLResponse)
    def handoffs_page(request: Request) -> Response:
        ctx = ctx_of(request)
        held = roles_of(ctx.enterprise)
        warehouse, courier = Role.DECLARANT in held, Role.LOGISTICS in held
        if not (warehouse or courier):
            raise Forbidden()
        couriers = [t for t in config.tenants.all() if Role.LOGISTICS in t.roles]
        return render(ctx, "handoffs.html", warehouse=warehouse, courier=courier, couriers=couriers,
                      fields=handoff.PARCEL_FIELDS, posted=handoffs.posted_by(ctx.enterprise),
                      incoming=handoffs.addressed_to(ctx.enterprise))

    @api.post("/handoffs")
    async def post_parcel(request: Request) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        form = await check_form_csrf(request)
        courier = str(form.get("courier", ""))
        if Role.DECLARANT not in roles_of(ctx.enterprise) or Role.LOGISTICS not in roles_of(courier):
            raise Forbidden()
        handoffs.post(ctx.enterprise, courier, {k: str(v) for k, v in form.items()})
        return RedirectResponse("/handoffs", 303)

    @api.post("/handoffs/{parcel_id}/declare")
    async def declare_parcel(request: Request, parcel_id: str) -> Response:
        ctx = ctx_of(request)
        ctx.require_writer()
        await check_form_csrf(request)
        parcel = handoffs.for_courier(parcel_id, ctx.enterprise)
        if parcel is None:
            raise NotFound()
        if not parcel.result:
            command = {"commandId": f"console-handoff-{parcel.id}", "sender": ctx.enterprise, "docType": "CEB511",
                       "document": parcel.waybill(config.tenants.get(ctx.enterprise)),
                       "ebpCode": parcel.data.get("ebpCode", "")}
            reply = await platform_of(ctx).declare(ctx.enterprise, command)
            parcel.result = str(reply.body.get("result", "failed"))
            parcel.errors = [f"{e.get('code')} {e.get('path')}: {e.get('message')}"
                             for e in reply.body.get("errors", [])]
            handoffs.save(parcel)
        return RedirectResponse("/handoffs", 303)

    # -- operator view ---------------------------------------------------------------------------
    @api.get("/operator", response_class=HTMLResponse)
    async def operator_page(request: Request, environment: str = "sandbox") -> Response:
        ctx = ctx_of(request)
        ctx.require_operator()
        chosen = Environment.PRODUCTION if environment == "production" else Environment.SANDBOX
        platform = config.platforms.get(chosen)
        kinds = {t.customs_code: doc_types_for(config.tenants, t.customs_code) for t in config.tenants.all()}
        rows = await operator_view.figures(platform, config.tenants, kinds) if platform is not None else []
        stream = operator_view.stream_view(config.operator_stats.get(chosen), ctx.t)
        sampler = config.consumer_lag.get(chosen)
        if sampler is not None:
            await sampler.refresh()
        lag = operator_view.lag_view(sampler.samples if sampler else [], ctx.t)
        return render(ctx, "operator.html", rows=rows, environment=chosen, stream=stream, lag=lag)

    # -- onboarding and sandbox ------------------------------------------------------------------
    @api.get("/onboarding", response_class=HTMLResponse)
    def onboarding_page(request: Request) -> Response:
        ctx = ctx_of(request)
        enterprises = sorted(t.customs_code for t in config.tenants.all()) if ctx.operator else [ctx.enterprise]
        tracks = {code: config.onboarding.track(code, config.tenants, accounts.environment(code))
                  for code in enterprises if code}
        return render(ctx, "onboarding.html", tracks=tracks, environments={c: accounts.environment(c)
                                                                             for c in tracks})

    @api.post("/onboarding/{enterprise}/environment")
    async def promote(request: Request, enterprise: str) -> Response:
        ctx = ctx_of(request)
        ctx.require_operator()
        form = await check_form_csrf(request)
        if enterprise not in config.tenants:
            raise NotFound()
        target = Environment.PRODUCTION if form.get("environment") == "production" else Environment.SANDBOX
        assert ctx.user is not None
        accounts.set_environment(enterprise, target, ctx.user.username)
        log.info("console: enterprise %s moved to %s", enterprise, target)
        return RedirectResponse("/onboarding", 303)

    tax.register(api, render, ctx_of, platform_of)  # /tax (the 30-day settlement view), /tax/list/<list>
    return api


async def submit_batch(platform: Platform, batch: batch_store.Batch,
                       save: Callable[[batch_store.Batch], None] = lambda _b: None) -> None:
    """Declare the batch's documents one by one; each answer is kept on its item (and ``save``d)."""
    for item in batch.items:
        if item.result != "pending":
            continue
        reply = await platform.declare(str(item.command["sender"]), item.command)
        item.result = str(reply.body.get("result", "failed")) if reply.status in (200, 202, 422) else "failed"
        item.status = str(reply.body.get("status", ""))
        item.errors = [f"{e.get('code')} {e.get('path')}: {e.get('message')}" for e in reply.body.get("errors", [])]
        save(batch)
    batch.done = True
    save(batch)


async def refresh(platform: Platform, batch: batch_store.Batch) -> None:
    """Each accepted document's latest status (progress as customs answers)."""
    for item in batch.items:
        if item.result not in ("accepted", "duplicate"):
            continue
        reply = await platform.document(str(item.command["sender"]), item.doc_type, item.business_key)
        if reply.ok:
            item.status = str(reply.body.get("status", item.status))
            item.status_code = reply.body.get("statusCode")
            item.clearance_key = str(reply.body.get("clearanceKey", ""))


def document_from_form(doc_type: str, form: dict[str, Any]) -> dict[str, Any]:
    """``Head.field`` and ``List.n.field`` entries back into a document (other entries are ignored)."""
    spec = BY_CODE[doc_type]
    document: dict[str, Any] = {}
    lines: dict[str, dict[int, dict[str, str]]] = {}
    for name, value in form.items():
        parts = str(name).split(".")
        if len(parts) == 2 and parts[0] == spec.head and parts[1] not in PLATFORM_OWNED:
            document.setdefault(parts[0], {})[parts[1]] = str(value)
        elif len(parts) == 3 and parts[1].isdigit() and parts[0] != spec.head and parts[0][:1].isupper():
            lines.setdefault(parts[0], {}).setdefault(int(parts[1]), {})[parts[2]] = str(value)
    for name, by_index in lines.items():
        document[name] = [by_index[i] for i in sorted(by_index)]
    return document


def field_of(path: str) -> str:
    """The form field a CEB core finding names: ``Order[1].OrderList[2].qty`` -> ``OrderList.1.qty``."""
    match = importing._PATH.match(path)  # noqa: SLF001 - one pattern for both
    if not match:
        return ""
    if match["line"]:
        return f"{match['part']}.{int(match['line']) - 1}.{match['name']}"
    return f"{match['part']}.{match['name']}"


def _local(target: str) -> str:
    """Only a path of this site (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/documents"
