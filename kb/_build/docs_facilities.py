# ruff: noqa: E501  (the documents' prose lives in long string literals)
"""The sample knowledge base's binary documents, Facilities: fire safety and the office guide."""

from __future__ import annotations

from kb_document import Doc

__all__ = ["FIRE", "OFFICE"]

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
