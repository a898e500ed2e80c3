# ruff: noqa: E501, T201  (the documents' prose lives in long string literals; this is a CLI script)
"""Build the PDF and DOCX documents of the sample knowledge base.

The content of every binary document lives in this file (``DOCUMENTS`` below), so the
documents can be reviewed and edited as text. Run from anywhere:

    .venv/bin/python kb/_build/build_binary_docs.py

The output is deterministic: fixed creation dates and metadata in both formats, and the
DOCX zip container is rewritten with fixed timestamps, so re-running produces the same bytes.
``kb/_build/`` lies outside every source root in ``kb/sources.yaml`` and is never ingested.

Needs fpdf2 and python-docx (both in the dev dependencies).
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF
from fpdf.fonts import FontFace

KB = Path(__file__).resolve().parent.parent
FIXED_DATE = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
AUTHOR = "Northwind Labs"
ZIP_DATE = (2026, 3, 1, 9, 0, 0)

# A block is (kind, payload): ("h1"|"h2"|"h3"|"p"|"meta", str), ("ul"|"ol", list[str]),
# ("table", list[list[str]]) whose first row is the header.
Block = tuple[str, str | list[str] | list[list[str]]]


@dataclass(frozen=True)
class Doc:
    path: str  # relative to kb/
    title: str
    subject: str
    blocks: list[Block] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------

LAPTOP = Doc(
    path="it/laptop-request-and-refresh.pdf",
    title="Laptop requests and refresh",
    subject="IT hardware standard, laptop requests, refresh cycle and loaners",
    blocks=[
        ("h1", "Laptop requests and refresh"),
        (
            "meta",
            "Owner: IT End-User Services - Last reviewed: 14 January 2026 - Applies to: all employees",
        ),
        (
            "p",
            "Every Northwind employee receives one company laptop. This document lists the standard "
            "models, explains how to request a laptop, when laptops are replaced, and what to do with "
            "your old one. Contractors receive a laptop only when their statement of work requires it.",
        ),
        ("h2", "Standard models"),
        (
            "table",
            [
                ["Profile", "Windows", "Mac", "Who"],
                [
                    "Standard",
                    "Dell Latitude 7450, 16 GB, 512 GB",
                    "MacBook Air 13 in. M3, 16 GB, 512 GB",
                    "most roles",
                ],
                [
                    "Power",
                    "Dell Precision 5690, 32 GB, 1 TB",
                    "MacBook Pro 14 in. M4 Pro, 32 GB, 1 TB",
                    "Engineering, Data, Design",
                ],
            ],
        ),
        (
            "p",
            "You choose Windows or Mac when you join. Switching platform later counts as a new "
            "request and needs your manager's approval. Every office desk has one 27-inch monitor and "
            "a docking station; a headset is issued with every laptop.",
        ),
        ("h2", "Requesting a laptop"),
        (
            "ol",
            [
                "Open Northwind Help and choose Hardware > Laptop request (for new starters, the manager "
                "uses Hardware > New starter bundle at least 10 business days before the start date).",
                "Choose the profile. The Power profile needs a one-line business reason.",
                "Your manager approves the request in Northwind Help.",
                "The Tech Bar (Floor 2, Room 2.14) emails you when the laptop is ready. Models in stock "
                "are ready within 5 business days; models not in stock take up to 15 business days.",
            ],
        ),
        ("h2", "Refresh cycle"),
        (
            "p",
            "Laptops are replaced every 4 years (48 months) from the date they were first issued. "
            "The Tech Bar emails you about 6 weeks before your refresh date to book a handover "
            "appointment. A laptop can be replaced earlier if it fails and cannot be repaired "
            "economically, or if its battery health drops below 80%. Run the Battery Health check in "
            "Software Center or Self Service and attach the result to your request.",
        ),
        ("h2", "Returning your old laptop"),
        (
            "ul",
            [
                "Return the old laptop to the Tech Bar within 10 business days of receiving the new one.",
                "Make sure your files are in OneDrive or a Northwind Drive site; the old disk is not copied.",
                "Returned laptops are erased to the NIST SP 800-88 standard and recycled or resold by a "
                "certified partner. Employees cannot buy their old laptops.",
            ],
        ),
        ("h2", "Loaners, repairs and damage"),
        (
            "p",
            "The Tech Bar lends loaner laptops for up to 10 business days while yours is repaired, or "
            "for short projects. Accidental damage is repaired free of charge. A second accidental "
            "damage within 12 months needs a short note from your department head. Lost and stolen "
            "laptops must be reported to the Security hotline within 1 hour (see Lost or stolen "
            "device).",
        ),
        ("h2", "Working from home"),
        (
            "p",
            "One monitor and a headset can be shipped to your home address on request through "
            "Hardware > Peripherals. Other home office furniture is covered by the one-time home "
            "office stipend described in the Remote work policy.",
        ),
        (
            "p",
            "Questions: IT Service Desk, extension 4357, +1 503 555 0143, servicedesk@northwind-labs.example.",
        ),
    ],
)

AUP = Doc(
    path="it/acceptable-use-policy.pdf",
    title="Acceptable use policy",
    subject="Rules for using Northwind IT systems, data classification, monitoring",
    blocks=[
        ("h1", "Acceptable use policy"),
        (
            "meta",
            "Owner: Information Security - Version 4.1 - Effective: 1 February 2026 - "
            "Applies to: employees, contractors and anyone with a Northwind account",
        ),
        (
            "p",
            "This policy sets out how you may use Northwind laptops, phones, accounts, networks and "
            "data. You accept it when you first sign in and every year after that. Breaking this "
            "policy can lead to action under the disciplinary procedure and, for contractors, to the "
            "end of the contract.",
        ),
        ("h2", "1. Company property and monitoring"),
        (
            "p",
            "Northwind devices, accounts and data belong to Northwind. To protect the company and its "
            "customers, Northwind logs and may review activity on its systems, including sign-ins, "
            "web traffic passing through company networks and the VPN, email metadata and files "
            "stored in company services. Reviews of an individual's content need approval from Legal "
            "and People Operations, except during an active security incident.",
        ),
        ("h2", "2. Personal use"),
        (
            "p",
            "Reasonable personal use is allowed: reading personal email in a browser, online banking "
            "or booking a doctor's appointment during a break. Personal use must not interfere with "
            "your work, must not use large amounts of bandwidth or storage, and must never involve "
            "illegal, offensive or harassing content. Do not store personal photos or music "
            "libraries in OneDrive or on Northwind Drive.",
        ),
        ("h2", "3. Data classification"),
        (
            "table",
            [
                ["Label", "Meaning", "Examples"],
                [
                    "Public",
                    "approved for anyone outside Northwind",
                    "website, visitor information, press releases",
                ],
                [
                    "Internal",
                    "default; for employees and approved contractors",
                    "policies, team plans, most documents",
                ],
                [
                    "Confidential",
                    "limited to people who need it",
                    "customer data, contracts, financial results before publication",
                ],
                [
                    "Restricted",
                    "named people only; strongest controls",
                    "salary data, HR investigations, security keys, bank details",
                ],
            ],
        ),
        (
            "p",
            "Label documents with the sensitivity button in Microsoft 365. If you are unsure, choose "
            "Confidential and ask the data owner. Confidential and Restricted data must not be "
            "shared externally, copied to personal devices or accounts, or pasted into AI tools "
            "other than the approved ChatGPT Enterprise workspace.",
        ),
        ("h2", "4. Accounts, passwords and MFA"),
        (
            "ul",
            [
                "Your account is for you alone. Never share your password, MFA device or badge.",
                "Passwords have at least 14 characters; MFA is mandatory (see Password reset and MFA enrollment).",
                "Your screen locks automatically after 5 minutes of inactivity. Lock it yourself "
                "(Windows+L, or Control+Command+Q on a Mac) whenever you leave your laptop.",
            ],
        ),
        ("h2", "5. Devices and removable media"),
        (
            "ul",
            [
                "Only Northwind-managed devices may connect to NW-Corp or the VPN. Personal devices use NW-Guest.",
                "USB storage devices are blocked, except company-issued encrypted USB drives from the Tech Bar.",
                "Do not disable or tamper with disk encryption, the endpoint protection agent or updates.",
                "Software may be installed only under the Software installation policy.",
            ],
        ),
        ("h2", "6. Email, messaging and social media"),
        (
            "p",
            "Use your Northwind email only for work and reasonable personal use. Do not auto-forward "
            "work email to a personal account. Do not speak for Northwind on social media unless "
            "Communications has authorised you; never post Confidential or Restricted information, "
            "photos of whiteboards or screens, or details of customers.",
        ),
        ("h2", "7. Clean desk and printing"),
        (
            "p",
            "At the end of the day, lock away printed Confidential and Restricted papers and put "
            "papers you no longer need in the locked shred bins on every floor. Use FollowMe printing "
            "so that documents are never left in printer trays.",
        ),
        ("h2", "8. Prohibited activities"),
        (
            "ul",
            [
                "Accessing data or systems you are not authorised to use, or trying to bypass access controls.",
                "Running network scanners, password crackers or hacking tools outside approved security work.",
                "Installing peer-to-peer file sharing, cryptocurrency mining or unlicensed software.",
                "Using personal VPNs or remote access tools such as TeamViewer or AnyDesk.",
                "Sending chain letters, harassment, or discriminatory or sexually explicit material.",
            ],
        ),
        ("h2", "9. Reporting"),
        (
            "p",
            "Report suspected incidents, lost devices and policy breaches immediately, and in any case "
            "within 1 hour, to the Security hotline +1 503 555 0170 or security@northwind-labs.example. "
            "Reporting a mistake you made yourself is always the right thing to do.",
        ),
    ],
)

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

FIRE = Doc(
    path="facilities/fire-safety-and-evacuation.pdf",
    title="Fire safety and evacuation",
    subject="Fire alarms, evacuation routes, assembly point, wardens and first aid",
    blocks=[
        ("h1", "Fire safety and evacuation"),
        (
            "meta",
            "Owner: Facilities (Health and Safety) - Last reviewed: 20 January 2026 - "
            "Applies to: everyone at 400 Meridian Avenue",
        ),
        (
            "p",
            "Everyone in the building, including visitors and contractors, must know what to do when the "
            "fire alarm sounds. Read this page in your first week and walk your nearest escape route once.",
        ),
        ("h2", "The two alarm signals"),
        (
            "table",
            [
                ["Signal", "Meaning", "What to do"],
                [
                    "Continuous tone",
                    "Evacuate",
                    "Leave the building immediately by the nearest stairwell",
                ],
                [
                    "Intermittent (pulsing) tone",
                    "Alert",
                    "Stop work, prepare to leave, wait for instructions "
                    "from your floor warden or the public address system",
                ],
            ],
        ),
        (
            "p",
            "The alarm is tested every Wednesday at 10:00 for up to 30 seconds. During the weekly test "
            "you do not need to leave. If the alarm sounds for longer than 30 seconds, or at any other "
            "time, treat it as real.",
        ),
        ("h2", "When you hear the continuous alarm"),
        (
            "ol",
            [
                "Stop what you are doing. Do not collect belongings other than a coat and phone.",
                "Leave by the nearest stairwell: Stairwell A (east) or Stairwell B (west). Never use the lifts.",
                "Close doors behind you. Help visitors you are hosting; they must stay with you.",
                "Go to the assembly point: the north lawn of Meridian Park, across Meridian Avenue. Cross at "
                "the traffic lights.",
                "Report to your floor warden at the assembly point so that you are counted.",
                "Do not go back into the building until the fire department or a Security officer says it is safe.",
            ],
        ),
        ("h2", "Floor wardens"),
        (
            "p",
            "Each floor has at least 2 trained fire wardens, who wear orange high-visibility vests during "
            "an evacuation. Wardens sweep their floor, check restrooms and meeting rooms, and report to the "
            "chief warden at the assembly point. Roll call uses the visitor list from reception and the "
            "day's hot desk bookings. The warden list is on the notice board next to each lift. "
            "Volunteers are always welcome: training takes half a day and is repeated every 2 years.",
        ),
        ("h2", "People who need help to evacuate"),
        (
            "p",
            "If you may need help to leave the building (for example because of a mobility impairment, "
            "pregnancy or an injury), ask Facilities for a Personal Emergency Evacuation Plan (PEEP). "
            "Refuge areas with an intercom to the Security desk are on the landing of each stairwell on "
            "every floor. Wardens check the refuge areas and tell the fire department who is waiting there.",
        ),
        ("h2", "If you discover a fire"),
        (
            "ol",
            [
                "Raise the alarm by breaking the glass at the nearest red call point.",
                "Call 911, then the Security emergency line on extension 2222.",
                "Only use an extinguisher on a very small fire if you are trained and have a clear way out. "
                "Water extinguishers (red) are for paper and wood; CO2 extinguishers (black label) for "
                "electrical equipment. Extinguishers are next to every stairwell door.",
            ],
        ),
        ("h2", "Drills"),
        (
            "p",
            "Full evacuation drills take place twice a year, in April and October. Only the wardens know "
            "the date. The target is to have the whole building at the assembly point within 6 minutes.",
        ),
        ("h2", "Prevention"),
        (
            "ul",
            [
                "Never prop fire doors open or block corridors and stairwells.",
                "Personal space heaters, candles and multi-socket extension chains are not allowed.",
                "Report damaged cables, blocked exits or missing extinguishers to the Facilities helpdesk, "
                "extension 2100.",
            ],
        ),
        ("h2", "First aid and medical emergencies"),
        (
            "p",
            "For a medical emergency call 911, then Security on extension 2222 so that they can guide the "
            "ambulance crew. Trained first aiders are listed next to each lift. Defibrillators (AEDs) are "
            "at reception on Floor 1 and in the Floor 4 kitchen. First aid kits are in every kitchen.",
        ),
    ],
)

SOFTWARE = Doc(
    path="it/software-installation-policy.docx",
    title="Software installation policy",
    subject="How software is approved and installed on Northwind devices",
    blocks=[
        ("h1", "Software installation policy"),
        (
            "meta",
            "Owner: IT End-User Services and Information Security - Version 3.0 - Effective: 1 January 2026",
        ),
        (
            "p",
            "Unapproved software is one of the most common ways attackers get into companies, and unlicensed "
            "software exposes Northwind to legal claims. This policy explains how to get the software you "
            "need quickly and safely. It applies to every Northwind-managed laptop and to any software that "
            "processes Northwind data, including browser extensions and cloud services.",
        ),
        ("h2", "Administrator rights"),
        (
            "p",
            "Standard users do not have local administrator rights. Most software can be installed without "
            "them from the catalogue. Developers who need to install packages and tools can request "
            "temporary elevation with Admin by Request: each elevation lasts 30 minutes, requires a short "
            "justification and is logged. Permanent local administrator rights are not granted.",
        ),
        ("h2", "Installing software from the catalogue"),
        ("p", "More than 180 approved applications are available for self-service installation:"),
        (
            "ul",
            [
                "Windows: open Software Center from the Start menu, choose the application and click Install.",
                "macOS: open Self Service from the Applications folder and click Install.",
            ],
        ),
        (
            "p",
            "Catalogue software is licensed, pre-configured and updated automatically. Examples: Microsoft "
            "365 apps, Zoom, Slack (for customer channels), Visual Studio Code, Docker Desktop, Python, "
            "Tableau Reader, Adobe Acrobat Reader, 7-Zip, NW Connect, FollowMe Printing.",
        ),
        ("h2", "Requesting software that is not in the catalogue"),
        (
            "ol",
            [
                "Open Northwind Help and choose IT > Software request.",
                "Give the name, the vendor's website, the version, what you need it for, and whether it will "
                "store or process Northwind or customer data.",
                "For paid software, give the cost centre; your manager approves the cost. Purchases of $2,500 "
                "or more (annual value) also need a purchase order under the Purchase orders and approval "
                "thresholds policy.",
                "Information Security and IT review the request. The target is 5 business days. Software that "
                "will process Confidential or Restricted data can take longer because it needs a full vendor "
                "security review.",
                "Once approved, IT adds the software to the catalogue so that you and others can install it.",
            ],
        ),
        (
            "p",
            "Free and open-source software also needs a request: free software is reviewed for licence "
            "terms, security and maintenance, but is usually approved within 2 business days.",
        ),
        ("h2", "Prohibited software"),
        ("p", "The following are never approved on Northwind devices:"),
        (
            "ul",
            [
                "peer-to-peer and torrent clients;",
                "personal VPN services and proxy tools;",
                "remote access tools not provided by IT, such as TeamViewer or AnyDesk;",
                "cryptocurrency miners and wallets;",
                "cracked, pirated or otherwise unlicensed software, and licence key generators;",
                "personal cloud storage sync clients (personal Dropbox, Google Drive, iCloud Drive);",
                "password managers other than the company password manager.",
            ],
        ),
        ("h2", "Browser extensions"),
        (
            "p",
            "Chrome and Edge are managed. Only extensions on the allowlist can be installed; the allowlist is "
            "shown in the Chrome Web Store under Recommended by your organisation. Request a new extension "
            "the same way as other software. Extensions that read all website data are rarely approved.",
        ),
        ("h2", "Generative AI tools"),
        (
            "p",
            "Use the company's ChatGPT Enterprise workspace (request access in Northwind Help) and the AI "
            "features built into Microsoft 365. Do not install AI desktop assistants or browser plug-ins "
            "that send page content to outside services, and never paste Confidential or Restricted "
            "information into consumer AI tools.",
        ),
        ("h2", "Cloud services and free trials"),
        (
            "p",
            "Signing up for a cloud service with your Northwind email address, even a free trial, counts as "
            "installing software: request it first. Services that are used without approval are blocked "
            "when detected, and any Northwind data in them must be deleted.",
        ),
        ("h2", "Updates and removal"),
        (
            "p",
            "Keep software up to date: catalogue software updates itself, and laptops that miss security "
            "updates for more than 30 days fail the VPN device posture check (error NWC-305). IT removes "
            "software that is no longer supported by its vendor, after 30 days' notice to the people who "
            "use it.",
        ),
        ("h2", "Exceptions"),
        (
            "p",
            "Exceptions to this policy need written approval from the Chief Information Security Officer and "
            "are reviewed every 6 months. Questions: IT Service Desk, extension 4357, "
            "servicedesk@northwind-labs.example.",
        ),
    ],
)

MFA_RESET = Doc(
    path="it/admin-runbooks/mfa-reset-identity-verification.docx",
    title="Runbook: MFA reset and identity verification",
    subject="IT administrators: verifying identity before resetting MFA or issuing temporary access codes",
    blocks=[
        ("h1", "Runbook: MFA reset and identity verification"),
        (
            "meta",
            "Owner: Identity & Access team - Audience: IT administrators only - Last reviewed: 21 January 2026",
        ),
        (
            "p",
            "Attackers call help desks pretending to be employees who lost their phone. This runbook is the "
            "only approved way to reset a user's MFA or issue a temporary access code. Do not shortcut it, "
            "however urgent or senior the caller seems.",
        ),
        ("h2", "Standard accounts"),
        (
            "ol",
            [
                "Open or link a ticket in Northwind Help (category Accounts > MFA reset). Never act on a request "
                "received only by email or chat.",
                "Start a Teams video call with the user. The user shows a government photo ID; compare the face "
                "and name with the photo in PeopleHub. Record the ID type and the last 4 characters of the ID "
                "number only, never a copy of the document.",
                "Send a Teams message to the user's manager (as listed in PeopleHub, not as named by the caller) "
                "asking them to confirm the request. Wait for the confirmation in the ticket.",
                "In the identity admin console, remove the lost factor and issue a temporary access code: single "
                "use, valid for 8 hours. Read it to the user on the video call; never send it by email.",
                "Ask the user to enroll the new factor while still on the call, and confirm it works.",
                "Close the ticket with the verification evidence.",
            ],
        ),
        ("h2", "High-risk accounts"),
        (
            "p",
            "Members of it-admins, finance-approvers and the executive team need a second administrator to "
            "witness the verification, and the user must come to the Tech Bar in person or join a video "
            "call with the Security on-call analyst. Admin accounts (adm- prefix) are reset only with a "
            "FIDO2 key issued in person.",
        ),
        ("h2", "Warning signs"),
        (
            "ul",
            [
                "The caller refuses video, says the camera is broken, or pressures you with urgency or seniority.",
                "The manager cannot be reached, or the caller offers another person to confirm.",
                "The account had failed sign-ins or unknown MFA prompts in the last 24 hours.",
            ],
        ),
        (
            "p",
            "If any warning sign appears, stop, do not reset anything, and call the Security hotline "
            "+1 503 555 0170. Treat it as a possible social engineering attempt (SEV3 until triaged).",
        ),
        ("h2", "Outside business hours"),
        (
            "p",
            "The IT on-call administrator follows the same steps. If the manager cannot be reached, the "
            "reset waits until the next business day unless the Security on-call analyst approves it.",
        ),
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

OFFICE = Doc(
    path="facilities/office-guide.docx",
    title="Office guide - 400 Meridian Avenue",
    subject="Kitchens, cafe, lockers, mail, lost and found, quiet areas, wellness rooms",
    blocks=[
        ("h1", "Office guide - 400 Meridian Avenue"),
        ("meta", "Owner: Facilities (Workplace team) - Last reviewed: 10 February 2026"),
        (
            "p",
            "Practical information for everyday life in the office. For access badges, parking, meeting rooms "
            "and fire safety, see the dedicated Facilities pages.",
        ),
        ("h2", "Floors at a glance"),
        (
            "table",
            [
                ["Floor", "What is there"],
                [
                    "1",
                    "Reception, Security desk, Meridian Cafe, mail room, showers and lockers, wellness room",
                ],
                [
                    "2",
                    "Tech Bar (Room 2.14), Mistral meeting room, lactation room (Room 2.05), IT and People Operations",
                ],
                ["3", "Engineering, Sirocco meeting room"],
                ["4", "Design studio, large-format plotter, Bora meeting room, Finance"],
                ["5", "Levante training room, library quiet zone, Sales and Marketing"],
                ["6", "Executive offices, Chinook boardroom"],
            ],
        ),
        ("h2", "Food and kitchens"),
        (
            "ul",
            [
                "Meridian Cafe on Floor 1 is open Monday to Friday, 07:30 to 14:30. Meals are subsidised; pay with "
                "your badge or card.",
                "Every floor has a kitchen with coffee, tea, fruit, a fridge and a dishwasher. Label food in the "
                "fridge with your name and date; fridges are emptied every Friday at 15:00.",
            ],
        ),
        ("h2", "Lockers"),
        (
            "p",
            "Day lockers on Floor 1 open with your badge. They are for use during the day and are cleared "
            "every Friday at 18:00; items left behind go to lost and found.",
        ),
        ("h2", "Mail and parcels"),
        (
            "ul",
            [
                "The mail room is on Floor 1 and is open 09:00 to 16:00. Business mail is delivered to each floor by "
                "11:00.",
                "You may receive up to 2 personal parcels per week at the office. Collect them within 5 business "
                "days; after that they are returned to the sender.",
                "Outgoing courier shipments are booked through a Facilities request.",
            ],
        ),
        ("h2", "Lost and found"),
        (
            "p",
            "Lost and found is at the Security desk in the lobby. Items are kept for 30 days, then donated or "
            "destroyed. Lost laptops, phones and badges must also be reported to the Security hotline.",
        ),
        ("h2", "Quiet and wellbeing spaces"),
        (
            "ul",
            [
                "The library on Floor 5 is a quiet zone: no calls and no meetings.",
                "The wellness room on Floor 1 is for rest, prayer or a medical need. Book it for up to 30 minutes "
                "in Outlook.",
                "The lactation room (Room 2.05) has a fridge and a comfortable chair and can be booked in Outlook.",
            ],
        ),
        ("h2", "Cleaning and clean desk"),
        (
            "p",
            "Cleaners work every evening from 18:00 to 22:00. Clear your desk at the end of each day so that "
            "desks can be cleaned, and lock away Confidential papers. Put papers you no longer need in the "
            "locked shred bins. Recycling stations are next to every kitchen.",
        ),
        ("h2", "Animals"),
        ("p", "Pets are not allowed in the office. Service animals are always welcome."),
        ("h2", "Contact"),
        (
            "p",
            "Facilities helpdesk: extension 2100, +1 503 555 0121, facilities@northwind-labs.example, or "
            "Northwind Help > Facilities. Security desk (24/7): extension 2200.",
        ),
    ],
)

DOCUMENTS: list[Doc] = [
    LAPTOP,
    AUP,
    PARENTAL,
    SALARY,
    BUDGET,
    FIRE,
    SOFTWARE,
    MFA_RESET,
    REMOTE,
    DISCIPLINARY,
    CARD,
    AUDIT,
    OFFICE,
]

# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

_LATIN1_REPLACEMENTS = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2192": "->",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u2026": "...",
    "\u2212": "-",
}


def _latin1(text: str) -> str:
    """Core PDF fonts (Helvetica) only cover latin-1; map the few typographic characters we use."""
    for src, dst in _LATIN1_REPLACEMENTS.items():
        text = text.replace(src, dst)
    text.encode("latin-1")  # raises if something outside latin-1 slipped into the content
    return text


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="Letter")
        self._doc_title = title

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(
            0, 10, _latin1(f"Northwind Labs - {self._doc_title} - page {self.page_no()}"), align="C"
        )
        self.set_text_color(0)


def render_pdf(doc: Doc) -> bytes:
    pdf = _Pdf(doc.title)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(_latin1(doc.title))
    pdf.set_author(AUTHOR)
    pdf.set_subject(_latin1(doc.subject))
    pdf.set_creator("kb/_build/build_binary_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    width = pdf.epw
    for kind, payload in doc.blocks:
        if kind in {"h1", "h2", "h3"}:
            assert isinstance(payload, str)
            size = {"h1": 18, "h2": 13, "h3": 11}[kind]
            pdf.ln(3 if kind == "h1" else 4)
            if pdf.get_y() > pdf.page_break_trigger - 30:
                pdf.add_page()  # keep a heading with the text that follows it
            pdf.start_section(_latin1(payload), level={"h1": 0, "h2": 1, "h3": 2}[kind])
            pdf.set_font("Helvetica", style="B", size=size)
            pdf.multi_cell(width, size * 0.55, _latin1(payload))
            pdf.ln(1.5)
        elif kind == "meta":
            assert isinstance(payload, str)
            pdf.set_font("Helvetica", style="I", size=9)
            pdf.multi_cell(width, 4.5, _latin1(payload))
            pdf.ln(2)
        elif kind == "p":
            assert isinstance(payload, str)
            pdf.set_font("Helvetica", size=10.5)
            pdf.multi_cell(width, 5.4, _latin1(payload))
            pdf.ln(2)
        elif kind in {"ul", "ol"}:
            assert isinstance(payload, list)
            pdf.set_font("Helvetica", size=10.5)
            for number, item in enumerate(payload, start=1):
                assert isinstance(item, str)
                marker = f"{number}." if kind == "ol" else "-"
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(7, 5.4, marker)
                pdf.multi_cell(width - 10, 5.4, _latin1(item))
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif kind == "table":
            assert isinstance(payload, list)
            pdf.set_font("Helvetica", size=9.5)
            with pdf.table(
                text_align="LEFT",
                line_height=5,
                padding=1.2,
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240)),
            ) as table:
                for row in payload:
                    cells = table.row()
                    for value in row:
                        cells.cell(_latin1(str(value)))
            pdf.ln(3)
        else:
            raise ValueError(f"unknown block kind {kind!r} in {doc.path}")
    return bytes(pdf.output())


def render_docx(doc: Doc) -> bytes:
    document = docx.Document()
    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Generated by kb/_build/build_binary_docs.py"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    document.styles["Normal"].font.size = Pt(10.5)
    for kind, payload in doc.blocks:
        if kind in {"h1", "h2", "h3"}:
            assert isinstance(payload, str)
            document.add_heading(payload, level={"h1": 1, "h2": 2, "h3": 3}[kind])
        elif kind == "meta":
            assert isinstance(payload, str)
            paragraph = document.add_paragraph()
            paragraph.add_run(payload).italic = True
        elif kind == "p":
            assert isinstance(payload, str)
            document.add_paragraph(payload)
        elif kind in {"ul", "ol"}:
            assert isinstance(payload, list)
            style = "List Number" if kind == "ol" else "List Bullet"
            for item in payload:
                assert isinstance(item, str)
                document.add_paragraph(item, style=style)
        elif kind == "table":
            assert isinstance(payload, list)
            header, *rows = payload
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, value in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(str(value)).bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = str(value)
            document.add_paragraph()
        else:
            raise ValueError(f"unknown block kind {kind!r} in {doc.path}")
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalise_zip(buffer.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX container with fixed timestamps so that re-runs give identical bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(item.filename))
    return out.getvalue()


def _word_count(doc: Doc) -> int:
    count = 0
    for _, payload in doc.blocks:
        if isinstance(payload, str):
            count += len(payload.split())
            continue
        for entry in payload:
            count += len((" ".join(entry) if isinstance(entry, list) else entry).split())
    return count


def main() -> int:
    for doc in DOCUMENTS:
        target = KB / doc.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".pdf":
            data = render_pdf(doc)
        elif target.suffix == ".docx":
            data = render_docx(doc)
        else:
            raise ValueError(f"unsupported output type: {doc.path}")
        target.write_bytes(data)
        words = _word_count(doc)
        print(f"wrote {doc.path} ({len(data):,} bytes, ~{words} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
