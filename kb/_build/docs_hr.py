# ruff: noqa: E501  (the documents' prose lives in long string literals)
"""The sample knowledge base's binary documents, HR: parental leave, salary bands, remote work, the disciplinary procedure."""

from __future__ import annotations

from kb_document import Doc

__all__ = ["PARENTAL", "SALARY", "REMOTE", "DISCIPLINARY"]

PARENTAL = Doc(
    path="hr/parental-leave-policy.pdf",
    title="Parental leave policy",
    subject="Paid parental leave for birth, adoption and foster placement",
    blocks=[
        ("h1", "Parental leave policy"),
        (
            "meta",
            "Owner: People Operations - Effective: 1 January 2026 - Applies to: all employees in the United States",
        ),
        (
            "p",
            "Northwind Labs supports employees who become parents through birth, adoption, surrogacy or "
            "foster placement. This policy describes paid parental leave, how to apply and how to "
            "return to work. It applies in addition to any leave you are entitled to by law (such as "
            "FMLA or state paid family leave); where both apply, they run at the same time and you "
            "receive whichever is more generous.",
        ),
        ("h2", "Eligibility"),
        (
            "p",
            "You are eligible for paid parental leave after 6 months of continuous service at the "
            "expected date of birth or placement. Employees with less than 6 months of service receive "
            "the leave required by law, and can ask HR about unpaid leave.",
        ),
        ("h2", "How much paid leave"),
        (
            "table",
            [
                ["Caregiver", "Paid leave", "Pay"],
                ["Primary caregiver", "20 weeks", "100% of base salary"],
                ["Secondary caregiver", "6 weeks", "100% of base salary"],
            ],
        ),
        (
            "p",
            "The primary caregiver is the parent with the main responsibility for the child's care "
            "during the leave. Both parents may work at Northwind; each applies for their own leave. "
            "For a birth parent, the 20 weeks include any pregnancy-related disability leave after "
            "the birth. Multiple births or adoptions at the same time do not increase the leave.",
        ),
        ("h2", "When to take it"),
        (
            "ul",
            [
                "Leave must be taken within 12 months of the birth, adoption or placement.",
                "Primary caregivers take the leave in one continuous block, which may start up to 2 weeks "
                "before the expected date.",
                "Secondary caregivers may split the 6 weeks into up to 2 blocks of at least 1 week each.",
            ],
        ),
        ("h2", "How to apply"),
        (
            "ol",
            [
                "Tell your manager and notify HR at least 12 weeks before the expected date of birth, or as "
                "soon as you can for adoption, surrogacy and foster placement.",
                "Submit the request in PeopleHub under Life events > Parental leave, with the expected date "
                "and the dates you plan to take.",
                "The Benefits & Leave Specialist (Priya Raman, benefits@northwind-labs.example) confirms your "
                "leave and pay in writing within 5 business days and files any state paid family leave claim "
                "with you.",
                "Confirm the actual date of birth or placement in PeopleHub within 2 weeks of the event.",
            ],
        ),
        ("h2", "Pay and benefits during leave"),
        (
            "ul",
            [
                "Base salary continues through normal payroll on the usual paydays.",
                "Medical, dental and vision cover, life insurance and the 401(k) match continue.",
                "Annual leave keeps accruing during parental leave. Days above the carry-over limit that "
                "could not be used because of parental leave can be carried over with HR approval.",
                "Commission plans: sales employees receive the average monthly commission of the previous "
                "6 months for each month of paid leave.",
            ],
        ),
        ("h2", "Keeping in touch"),
        (
            "p",
            "You may work up to 10 paid keep-in-touch days during your leave, for example for training "
            "or a team event, if you and your manager agree. Keep-in-touch days are paid at your normal "
            "rate and do not shorten or extend the leave. Nobody may require you to work during leave.",
        ),
        ("h2", "Returning to work"),
        (
            "p",
            "You return to the same role, or to an equivalent role with the same pay and level if your "
            "role no longer exists. To ease the return, primary and secondary caregivers may use a "
            "phased return: up to 4 weeks working 60% of their normal hours at full pay, taken "
            "directly after the leave. Agree the schedule with your manager at least 2 weeks before "
            "you return. A lactation room (Room 2.05) can be booked in Outlook; see the Office guide.",
        ),
        ("h2", "Pregnancy and adoption appointments"),
        (
            "p",
            "Time off for prenatal appointments, adoption meetings and fertility treatment is paid and "
            "does not count against sick leave or annual leave. Tell your manager in advance when you "
            "can.",
        ),
        ("h2", "Questions"),
        (
            "p",
            "Contact Priya Raman, Benefits & Leave Specialist, benefits@northwind-labs.example, "
            "+1 503 555 0154, or the HR helpdesk at extension 4700.",
        ),
    ],
)

SALARY = Doc(
    path="hr/confidential/salary-bands-2026.pdf",
    title="Salary bands 2026",
    subject="Restricted: base salary ranges by level and job family",
    blocks=[
        ("h1", "Salary bands 2026"),
        (
            "meta",
            "Classification: Restricted - Owner: Head of People Operations - Audience: HR managers "
            "and the Compensation Committee only - Effective: 1 April 2026",
        ),
        (
            "p",
            "These bands set the minimum, midpoint and maximum annual base salary (US dollars, full time) "
            "for each level. They apply to offers, promotions and the annual merit review from "
            "1 April 2026. Do not share the bands with managers or employees outside the salary review "
            "process; managers see only the band for the role they are hiring or reviewing.",
        ),
        ("h2", "Engineering, Data and Product"),
        (
            "table",
            [
                ["Level", "Minimum", "Midpoint", "Maximum"],
                ["L1", "$78,000", "$91,000", "$104,000"],
                ["L2", "$96,000", "$112,000", "$128,000"],
                ["L3", "$118,000", "$138,000", "$158,000"],
                ["L4", "$142,000", "$167,000", "$192,000"],
                ["L5", "$172,000", "$202,000", "$232,000"],
                ["L6", "$205,000", "$240,000", "$275,000"],
            ],
        ),
        ("h2", "General and administrative (Finance, HR, Facilities, IT operations)"),
        (
            "table",
            [
                ["Level", "Minimum", "Midpoint", "Maximum"],
                ["L1", "$52,000", "$61,000", "$70,000"],
                ["L2", "$64,000", "$75,000", "$86,000"],
                ["L3", "$80,000", "$94,000", "$108,000"],
                ["L4", "$98,000", "$115,000", "$132,000"],
                ["L5", "$122,000", "$143,000", "$164,000"],
                ["L6", "$150,000", "$176,000", "$202,000"],
            ],
        ),
        ("h2", "Sales"),
        (
            "p",
            "Sales roles use base salary bands at 60% of on-target earnings (OTE); the remaining 40% is "
            "variable commission. Account Executive (L3): base $72,000 to $96,000, OTE $120,000 to "
            "$160,000. Regional Sales Manager (L5): base $114,000 to $150,000, OTE $190,000 to $250,000.",
        ),
        ("h2", "Rules for using the bands"),
        (
            "ul",
            [
                "Geographic differential: Portland and other standard US locations 100%; remote employees "
                "in Tier 1 metro areas (New York, San Francisco, Boston, Washington DC, Seattle) 110%.",
                "New hire offers above the midpoint need approval from an HR manager; offers above the "
                "maximum need approval from the CFO.",
                "The 2026 merit budget is 3.5% of base salary, distributed according to performance ratings.",
                "Promotion increases are normally 8% to 12% and are capped at 15%, or the new band minimum "
                "if that is higher.",
                "Employees below the minimum of their band are brought to the minimum at the merit review.",
            ],
        ),
        ("p", "Questions about the bands go to Frank Osei, Head of People Operations."),
    ],
)

REMOTE = Doc(
    path="hr/remote-work-policy.docx",
    title="Remote and hybrid work policy",
    subject="Hybrid working rules, stipends, working abroad",
    blocks=[
        ("h1", "Remote and hybrid work policy"),
        ("meta", "Owner: People Operations - Effective: 1 January 2026"),
        (
            "p",
            "Northwind is a hybrid company. Most employees work partly from the office at 400 Meridian "
            "Avenue and partly from home. This policy sets the common rules; teams may agree additional "
            "arrangements with their department head.",
        ),
        ("h2", "Office days and core hours"),
        (
            "ul",
            [
                "Hybrid employees work from the office at least 2 days per week. Each team sets one anchor day "
                "when everyone is in the office.",
                "Core hours are 10:00 to 15:00 Pacific: be available for meetings during these hours unless you "
                "are on leave or have agreed otherwise with your manager.",
                "Hot desks can be booked up to 14 days ahead in the Northwind Help app.",
            ],
        ),
        ("h2", "Fully remote roles"),
        (
            "p",
            "A fully remote arrangement needs approval from your VP and from People Operations, and is "
            "recorded in your employment contract. Fully remote employees are expected in Portland for "
            "team events about twice a year; travel is paid under the travel booking policy.",
        ),
        ("h2", "Home office stipend and internet"),
        (
            "ul",
            [
                "A one-time home office stipend of $300 for a desk, chair or lighting. Claim it in ExpensePoint "
                "under the category Home office within 90 days of your start date (or of the date your remote "
                "arrangement was approved).",
                "An internet stipend of $40 per month, paid automatically through payroll to hybrid and remote "
                "employees. Home internet is therefore not claimed on expenses.",
                "One monitor and a headset can be shipped home by IT on request.",
            ],
        ),
        ("h2", "Working from another location"),
        (
            "p",
            "Working from another US state for more than 30 days in a calendar year needs People Operations "
            "approval, because it can change payroll taxes. Working from abroad is allowed for up to 20 "
            "working days per calendar year. Request it in PeopleHub at least 15 business days before you "
            "travel; People Operations checks tax, immigration and security rules. Working from a country "
            "on the restricted list is never allowed.",
        ),
        ("h2", "Security at home"),
        (
            "ul",
            [
                "Use NW Connect for internal systems and never work on Confidential data over public Wi-Fi "
                "without the VPN.",
                "Lock your screen when you step away, and do not let family members use your Northwind laptop.",
                "Printed Confidential documents are not allowed at home; if you must print, shred the pages "
                "in the office.",
            ],
        ),
        ("h2", "Health and safety"),
        (
            "p",
            "Set up your workspace following the ergonomics checklist in PeopleHub. Report any injury that "
            "happens while working at home to your manager and to HR within 24 hours, as for an injury "
            "in the office.",
        ),
        ("h2", "Changes to your arrangement"),
        (
            "p",
            "Either you or your manager can ask to review a hybrid or remote arrangement, with at least 4 "
            "weeks' notice. Questions: your HR business partner or hr@northwind-labs.example.",
        ),
    ],
)

DISCIPLINARY = Doc(
    path="hr/confidential/disciplinary-procedure.docx",
    title="Disciplinary procedure (HR guidance)",
    subject="Confidential HR guidance on warnings, hearings, suspension and appeals",
    blocks=[
        ("h1", "Disciplinary procedure (HR guidance)"),
        (
            "meta",
            "Owner: People Operations - Audience: HR team and HR managers - Version 2.4 - "
            "Last reviewed: 5 January 2026",
        ),
        (
            "p",
            "This guidance is for HR staff supporting managers through a disciplinary case about conduct. "
            "Performance problems follow the performance improvement plan (PIP) guidelines instead. Every "
            "case must be handled consistently, promptly and fairly, and documented in PeopleHub.",
        ),
        ("h2", "Informal stage"),
        (
            "p",
            "Minor conduct issues are first discussed informally by the manager. The manager records the "
            "conversation in a short note to the employee. An informal discussion is not a warning and is "
            "not kept on the employee's file after 6 months.",
        ),
        ("h2", "Formal stages"),
        (
            "table",
            [
                ["Stage", "When", "Stays on file"],
                [
                    "Verbal warning (recorded)",
                    "first formal action for minor misconduct",
                    "6 months",
                ],
                ["First written warning", "repeat or more serious misconduct", "12 months"],
                ["Final written warning", "further misconduct, or serious misconduct", "12 months"],
                [
                    "Dismissal",
                    "misconduct during a final written warning, or gross misconduct",
                    "-",
                ],
            ],
        ),
        (
            "p",
            "Final written warnings and dismissals need the written approval of an HR manager before the "
            "outcome is given.",
        ),
        ("h2", "Gross misconduct"),
        (
            "p",
            "Gross misconduct can lead to dismissal without previous warnings. Examples: theft or fraud, "
            "including deliberate expense fraud such as splitting receipts to get around limits; violence or "
            "threats; harassment or discrimination; serious breaches of the Acceptable use policy or of "
            "data protection rules; working under the influence of alcohol or drugs; serious "
            "insubordination.",
        ),
        ("h2", "Investigation and suspension"),
        (
            "ul",
            [
                "Every formal case starts with an investigation by someone not involved in the matter. HR staff "
                "with a conflict of interest must declare it and are excluded from the case file.",
                "Suspension on full pay may be used when evidence or people need protecting. It is not a "
                "disciplinary action. Review it after 10 working days at most.",
            ],
        ),
        ("h2", "The hearing"),
        (
            "ul",
            [
                "Give the employee at least 48 hours' written notice of the hearing, with the allegations and "
                "the evidence.",
                "The employee may be accompanied by a colleague of their choice.",
                "The hearing manager decides after the hearing and confirms the outcome in writing within 5 "
                "business days.",
            ],
        ),
        ("h2", "Appeals"),
        (
            "p",
            "The employee may appeal in writing within 5 business days of receiving the outcome. The appeal "
            "is heard by a manager more senior than, and not previously involved with, the original "
            "decision, supported by a different HR colleague. The appeal decision is final.",
        ),
        ("h2", "Records"),
        (
            "p",
            "Keep notes, evidence and letters in the employee's PeopleHub file with the Restricted label. "
            "Expired warnings are disregarded but the record is kept for 7 years after employment ends.",
        ),
    ],
)
