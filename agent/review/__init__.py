"""Citation audit reviews: auditors check what answers cited, and the reports they yield.

`service` (`ReviewService`) is the entry point: the review queue, review items and reviews;
`queue` (`ReviewQueue`) orders what each auditor should review next; `segments` splits an
answer at its citation markers and hides the text resting on restricted citations;
`citations` (`CitationInspector`) decides what an auditor may see of each cited chunk as the
index is now; `store` (`ReviewStore`) keeps picks and reviews in the audit database; `report`
computes citation precision and reviewer agreement; `types` holds the settings, errors and the
shapes the API, the web page and the CLI render.
"""

__all__ = ["citations", "queue", "report", "segments", "service", "store", "types"]
