"""PII shapes that Presidio's recognizers miss on their own (issue 16, finding 8).

Each row is a text, the entity type and the value inside it. `evals.suites.pii` scores them
apart from the Presidio set: every value must be masked (recall 1.0), whatever its wording.
"""

from __future__ import annotations

__all__ = ["SHAPES"]

SHAPES: tuple[tuple[str, str, str], ...] = (
    # unformatted US phone numbers after a phone word
    ("Please call me back at 4155550199 today.", "PHONE_NUMBER", "4155550199"),
    ("Mobile 2125550143, any time after five.", "PHONE_NUMBER", "2125550143"),
    ("You can text me on 16465550123 if the line is busy.", "PHONE_NUMBER", "16465550123"),
    # unformatted or spaced US social security numbers after an SSN label
    ("My SSN is 536228471.", "US_SSN", "536228471"),
    ("Social security number: 412 53 7789 for the payroll form.", "US_SSN", "412 53 7789"),
    ("ssn 219.09.9999 was rejected by the portal", "US_SSN", "219.09.9999"),
    # UK National Insurance numbers, spaced or not
    ("My NI number is QQ 12 34 56 C.", "UK_NINO", "QQ 12 34 56 C"),
    ("National Insurance: AB123456D", "UK_NINO", "AB123456D"),
    ("Payroll has the wrong NI no. JG 10 37 82 A on file.", "UK_NINO", "JG 10 37 82 A"),
    # dates of birth
    ("The employee was born 12/03/1984 in Leeds.", "DATE_OF_BIRTH", "12/03/1984"),
    ("Date of birth: 1979-11-23", "DATE_OF_BIRTH", "1979-11-23"),
    ("DOB 04.07.1991, please verify before the reset.", "DATE_OF_BIRTH", "04.07.1991"),
    ("She was born on 3 March 1990 and joined in 2015.", "DATE_OF_BIRTH", "3 March 1990"),
    # card numbers grouped with dots (read as a MAC address and a tail before)
    ("Card 4111.1111.1111.1111 was declined.", "CREDIT_CARD", "4111.1111.1111.1111"),
    ("Charge 5500.0000.0000.0004 again please.", "CREDIT_CARD", "5500.0000.0000.0004"),
)
