# ruff: noqa: E501  (the documents' prose lives in long string literals)
"""The sample knowledge base's binary documents, IT: laptops, acceptable use, software installation, the MFA-reset runbook."""

from __future__ import annotations

from kb_document import Doc

__all__ = ["LAPTOP", "AUP", "SOFTWARE", "MFA_RESET"]

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
