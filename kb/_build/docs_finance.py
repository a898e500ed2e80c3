# ruff: noqa: E501  (the documents' prose lives in long string literals)
"""The sample knowledge base's binary documents, Finance: the budget process, the corporate card, internal audit findings."""

from __future__ import annotations

from kb_document import Doc

__all__ = ["BUDGET", "CARD", "AUDIT"]

BUDGET = Doc(
    path="finance/budget-process-fy2027.pdf",
    title="Budget process FY2027",
    subject="Finance-internal: timeline and guidelines for the FY2027 budget",
    blocks=[
        ("h1", "Budget process FY2027"),
        ("meta", "Owner: VP Finance - Audience: Finance team - Issued: 2 March 2026"),
        (
            "p",
            "Northwind's fiscal year is the calendar year, so FY2027 runs from 1 January to 31 December "
            "2027. This document sets out the timeline, the planning assumptions and the roles in the "
            "FY2027 budget process. Department heads receive a shorter briefing in July; the details "
            "below are for the Finance team.",
        ),
        ("h2", "Timeline"),
        (
            "table",
            [
                ["Date", "Milestone", "Owner"],
                ["3 August 2026", "Budget kick-off; templates opened in NetSuite Planning", "FP&A"],
                [
                    "11 September 2026",
                    "Department budget submissions due (opex and headcount)",
                    "Department heads",
                ],
                ["28 September - 2 October 2026", "Review meetings with the CFO", "FP&A, CFO"],
                ["16 October 2026", "Consolidated draft budget and capex plan", "FP&A"],
                ["5 November 2026", "Executive team sign-off", "CEO, CFO"],
                ["10 December 2026", "Board approval", "CFO"],
            ],
        ),
        ("h2", "Planning assumptions"),
        (
            "ul",
            [
                "FY2026 forecast (as of February 2026): revenue $164.2 million, operating expenses $141.5 million.",
                "Operating expense growth for FY2027 is capped at 4% per department versus the FY2026 forecast, "
                "excluding approved new headcount.",
                "New headcount must be requested position by position with a business case. Backfills of "
                "leavers are approved by the department head within the existing budget.",
                "Merit increase assumption: 3.5% of base salary from 1 April 2027; benefits load 24% of salary.",
                "Travel budgets: 5% below FY2026 actuals; Sales and Customer Success are exempt.",
                "Capital expenditure: items of $2,500 or more are capitalised and planned in the capex plan.",
                "A central contingency of 2% of operating expenses is held by the CFO.",
            ],
        ),
        ("h2", "Roles"),
        (
            "ul",
            [
                "FP&A prepares templates, baseline forecasts and the consolidated budget.",
                "Each department has a Finance partner who reviews submissions before the CFO meetings.",
                "The Finance Controller checks that the budget structure matches the chart of accounts and "
                "cost centres in NetSuite.",
            ],
        ),
        ("h2", "Confidentiality"),
        (
            "p",
            "Budget drafts, headcount plans and the forecast figures above are Confidential until the "
            "board has approved the budget. Share them only with the department head concerned.",
        ),
    ],
)

CARD = Doc(
    path="finance/corporate-card-program.docx",
    title="Corporate card program",
    subject="Who gets a corporate card, limits, reconciliation and lost cards",
    blocks=[
        ("h1", "Corporate card program"),
        (
            "meta",
            "Owner: Finance (Travel & Expense) - Effective: 1 January 2026 - Applies to: all employees",
        ),
        (
            "p",
            "Northwind issues Visa corporate cards through First Cascade Bank for business travel and small "
            "business purchases. The company pays the card bill directly (corporate liability), so you do "
            "not pay the card yourself, but you must account for every transaction.",
        ),
        ("h2", "Who can get a card"),
        (
            "ul",
            [
                "Employees who travel on business at least 4 times a year.",
                "Team card holders nominated by a department head to make small purchases for their team.",
                "Other employees with a business need, on their manager's request.",
            ],
        ),
        (
            "p",
            "Apply in Northwind Help under Finance > Corporate card request. Your manager approves the "
            "request; the card arrives at the office within 7 to 10 business days. Activate it with the "
            "bank's app and set a PIN. Contractors do not receive corporate cards.",
        ),
        ("h2", "Limits"),
        (
            "table",
            [
                ["Limit", "Standard card", "Frequent traveller card"],
                ["Monthly limit", "$5,000", "$10,000 (VP approval)"],
                [
                    "Single transaction",
                    "$2,500",
                    "$2,500 (flights and hotels booked via the Travel Desk are exempt)",
                ],
                ["Cash withdrawals", "not allowed", "not allowed"],
            ],
        ),
        (
            "p",
            "Purchases of $2,500 or more need a purchase order, not a card payment (see Purchase orders and "
            "approval thresholds). Blocked merchant categories include ATM cash, gambling, money transfer "
            "services and gift cards.",
        ),
        ("h2", "Using the card"),
        (
            "ul",
            [
                "Use the card for business expenses only. Personal charges are not allowed, even if you repay them.",
                "If you make a personal charge by mistake, mark it as personal in ExpensePoint and repay it within "
                "10 business days by bank transfer; Finance sends the details.",
                "Keep itemised receipts for every transaction of $25 or more.",
            ],
        ),
        ("h2", "Reconciliation"),
        (
            "p",
            "Card transactions appear in ExpensePoint automatically within 2 days. Attach receipts, choose "
            "categories and submit them within 30 days of the statement date. Your manager approves them like "
            "an expense report. Cards with transactions unreconciled for more than 60 days are suspended "
            "until they are cleared, and repeated delays are reported to the department head.",
        ),
        ("h2", "Lost or stolen card"),
        (
            "ol",
            [
                "Call First Cascade Bank immediately on +1 503 555 0166 (24 hours a day) to block the card.",
                "Email cards@northwind-labs.example with the date and place of the loss.",
                "A replacement card arrives within 5 business days. Fraudulent transactions are disputed by "
                "Finance; mark them as disputed in ExpensePoint.",
            ],
        ),
        ("h2", "When you leave or change role"),
        (
            "p",
            "Reconcile all transactions before your last day and hand the card to your manager, who returns "
            "it to Finance. Cards are cancelled on your last working day.",
        ),
    ],
)

AUDIT = Doc(
    path="finance/internal-audit-findings-2025.docx",
    title="Internal audit findings 2025 - Finance controls",
    subject="Confidential: findings, ratings and remediation plan from the 2025 internal audit",
    blocks=[
        ("h1", "Internal audit findings 2025 - Finance controls"),
        (
            "meta",
            "Prepared by: Internal Audit (Oscar Lindgren, Internal Audit Lead) - Audience: Finance "
            "leadership and Internal Audit - Report date: 27 January 2026 - Classification: Confidential",
        ),
        (
            "p",
            "Internal Audit tested purchasing, expenses, corporate cards, supplier master data and system "
            "access in Finance for the period January to December 2025. Overall rating: Satisfactory with "
            "improvements needed. Five findings were raised; management has agreed remediation for all of "
            "them.",
        ),
        ("h2", "Summary of findings"),
        (
            "table",
            [
                ["ID", "Finding", "Rating", "Owner", "Due"],
                [
                    "F-01",
                    "Purchase splitting to stay below the $10,000 approval threshold",
                    "High",
                    "Procurement lead",
                    "30 June 2026",
                ],
                [
                    "F-02",
                    "Expense reports without required receipts",
                    "Medium",
                    "Finance Controller",
                    "31 May 2026",
                ],
                [
                    "F-03",
                    "Supplier bank detail change without callback",
                    "High",
                    "Finance Controller",
                    "Remediated 15 August 2025",
                ],
                [
                    "F-04",
                    "Late NetSuite user access review",
                    "Medium",
                    "NetSuite administrator",
                    "30 April 2026",
                ],
                [
                    "F-05",
                    "Corporate card reconciliations overdue",
                    "Low",
                    "Travel & Expense lead",
                    "31 May 2026",
                ],
            ],
        ),
        ("h2", "F-01 Purchase splitting"),
        (
            "p",
            "Six cases in Marketing where a purchase from one supplier was split into two or three POs or "
            "card payments within 10 days, each just below $10,000, so that department-head approval was "
            "avoided. Agreed action: ProcureDesk will flag POs to the same supplier totalling more than "
            "$10,000 within 30 days, and Procurement will review every flag.",
        ),
        ("h2", "F-02 Missing receipts"),
        (
            "p",
            "In a sample of 200 expense reports, 14 (7%) contained items of $25 or more without a receipt or "
            "a missing receipt declaration. Agreed action: ExpensePoint will block submission of items of $25 "
            "or more without a receipt or declaration.",
        ),
        ("h2", "F-03 Supplier bank details"),
        (
            "p",
            "In a sample of 25 supplier bank detail changes, 1 change (Q2 2025) was processed without a "
            "callback to an independently sourced phone number. No payment was lost. Remediated: NetSuite now "
            "requires a second AP approver and the Finance Controller's approval, and changes are recorded in "
            "the supplier bank details change log.",
        ),
        ("h2", "F-04 Access review"),
        (
            "p",
            "The Q3 2025 NetSuite user access review was completed 3 weeks late and 2 leavers kept active "
            "accounts for 19 days. Agreed action: access reviews are tracked in the close checklist, and "
            "leavers are disabled automatically from PeopleHub.",
        ),
        ("h2", "F-05 Card reconciliations"),
        (
            "p",
            "11 card holders had transactions unreconciled for more than 60 days at year end. Agreed action: "
            "automatic suspension after 60 days, as now stated in the Corporate card program.",
        ),
        ("h2", "Follow-up"),
        (
            "p",
            "Internal Audit will re-test F-01, F-02 and F-04 in the Q3 2026 review and report to the Audit "
            "Committee in October 2026.",
        ),
    ],
)
