"""The onboarding tracker: the seeds' steps from customs registration to go-live, per enterprise, with
lead-time hints and the two reminders the seeds insist on (collect the IC card within 90 days of
applying; renew the signing certificate 30 days before it expires), and the joint-debugging checklist
a sandbox tenant runs per role before an operator promotes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from cbec.tenants import Role, TenantRegistry, UnknownTenant

from console_service.accounts import Environment

STEPS: tuple[tuple[str, str, str, str], ...] = (
    # key, Chinese, English, lead-time hint
    ("registration", "海关注册登记", "Customs registration", "1–5 working days"),
    ("ic_card", "IC卡/UKey 申领", "IC card / UKey", "collect within 90 days of applying"),
    ("filing", "企业类型备案", "Enterprise type filing", "1–3 working days"),
    ("certificate", "加签证书（HSM）", "Signing certificate (HSM)", "renew 30 days before expiry"),
    ("dxp_id", "DXPID 申请", "DXP ID", "issued with the access application"),
    ("guarantee", "担保账户", "Guarantee account", "bank guarantee, 5–10 working days"),
    ("account", "平台账号", "Platform account", "same day"),
    ("joint_debugging", "联调测试", "Joint debugging", "in the sandbox, per role"),
    ("go_live", "上线", "Go-live", "an operator promotes the enterprise"),
)

CHECKLIST: dict[Role, tuple[str, ...]] = {
    Role.PLATFORM: ("declare a CEB311 order and receive its 120", "correct a rejected order"),
    Role.ECOMMERCE: ("declare a CEB311 order and receive its 120",),
    Role.PAYMENT: ("declare a CEB411 payment and receive its 120",),
    Role.LOGISTICS: ("declare a CEB511 waybill and receive its 120", "declare a CEB711 entry list"),
    Role.DECLARANT: ("declare a CEB621 list and see it released (800)", "declare a CEB623 cancel"),
    Role.SITE_OPERATOR: ("declare a CEB711 entry list",),
}


@dataclass
class Step:
    key: str
    zh: str
    en: str
    hint: str
    status: str  # todo | done
    reminder: str = ""


@dataclass
class Onboarding:
    """Step states per enterprise (done steps and dates); unknown ones are to do."""

    done: dict[str, dict[str, date]] = field(default_factory=dict)
    ic_card_applied: dict[str, date] = field(default_factory=dict)
    certificate_expires: dict[str, date] = field(default_factory=dict)

    def track(self, enterprise: str, tenants: TenantRegistry, environment: Environment,
              today: date | None = None) -> dict[str, object]:
        today = today or date.today()
        done = dict(self.done.get(enterprise, {}))
        try:
            tenant = tenants.get(enterprise)
        except UnknownTenant:
            return {"steps": [], "checklist": [], "dxp_id": "", "name": enterprise}
        # what the registry already proves: registered, filed, addressed at customs
        for key in ("registration", "filing", "dxp_id", "account"):
            done.setdefault(key, today)
        if environment is Environment.PRODUCTION:
            done.setdefault("joint_debugging", today)
            done.setdefault("go_live", today)
        steps = []
        for key, zh, en, hint in STEPS:
            step = Step(key, zh, en, hint, "done" if key in done else "todo")
            if key == "ic_card" and key not in done and enterprise in self.ic_card_applied:
                due = self.ic_card_applied[enterprise] + timedelta(days=90)
                step.reminder = f"collect by {due.isoformat()}" + (" (overdue)" if due < today else "")
            if key == "certificate" and enterprise in self.certificate_expires:
                expires = self.certificate_expires[enterprise]
                if expires - today <= timedelta(days=30):
                    step.reminder = f"expires {expires.isoformat()}: renew now"
            steps.append(step)
        checklist = [item for role in Role if role in tenant.roles for item in CHECKLIST[role]]
        return {"steps": steps, "checklist": checklist, "dxp_id": tenant.dxp_id, "name": tenant.name}
