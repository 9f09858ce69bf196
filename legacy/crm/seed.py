"""The demo CRM's seed data: B2B accounts with their contacts and a few account notes.

Accounts A-2001 to A-2008 are the demo ledger's customers C-1001 to C-1008 (same companies,
`ledger_customer_id` links them), as a CRM and an ERP describe the same customers in practice.
E-mail addresses use the reserved `.example` domain.
"""

from __future__ import annotations

from legacy.crm.records import AccountRecord, ContactRecord, NoteRecord

_OWNERS = {
    "jk": "julia.keller@retrofit-demo.example",
    "mo": "marco.oliveira@retrofit-demo.example",
    "sp": "sofia.petrova@retrofit-demo.example",
}

SEED_ACCOUNTS: tuple[AccountRecord, ...] = tuple(
    AccountRecord(
        id=id_,
        name=name,
        industry=industry,
        country=country,
        status=status,
        owner_email=_OWNERS[owner],
        annual_revenue_eur=revenue,
        website=f"https://www.{domain}",
        ledger_customer_id=ledger,
        updated_at=updated,
    )
    for id_, name, industry, country, status, owner, revenue, domain, ledger, updated in (
        ("A-2001", "Nordwind Logistik GmbH", "Logistics", "DE", "active", "jk", 48_000_000,
         "nordwind-logistik.example", "C-1001", "2024-11-04T09:12:00Z"),
        ("A-2002", "Harbor & Pine Distributors Ltd", "Wholesale distribution", "GB", "active", "mo", 22_500_000,
         "harborpine.example", "C-1002", "2024-10-18T14:40:00Z"),
        ("A-2003", "Atlas Industrial Supply Inc.", "Industrial supplies", "US", "active", "sp", 310_000_000,
         "atlas-industrial.example", "C-1003", "2024-12-02T16:05:00Z"),
        ("A-2004", "Fratelli Rossi S.p.A.", "Food and beverage", "IT", "active", "mo", 15_800_000,
         "fratellirossi.example", "C-1004", "2024-09-27T08:30:00Z"),
        ("A-2005", "Kestrel Medical Devices AB", "Medical devices", "SE", "active", "jk", 96_000_000,
         "kestrel-medical.example", "C-1005", "2024-11-21T11:00:00Z"),
        ("A-2006", "Van Dijk Bouwmaterialen B.V.", "Construction materials", "NL", "on_hold", "sp", 61_000_000,
         "vandijk-bouw.example", "C-1006", "2025-01-09T10:15:00Z"),
        ("A-2007", "Summit Office Solutions LLC", "Office equipment", "US", "on_hold", "mo", 8_900_000,
         "summit-office.example", "C-1007", "2025-01-14T15:45:00Z"),
        ("A-2008", "Alpenglow Hotels AG", "Hospitality", "CH", "active", "jk", 37_200_000,
         "alpenglow-hotels.example", "C-1008", "2024-08-30T13:20:00Z"),
        ("A-2009", "Brightwater Analytics Ltd", "Software", "IE", "prospect", "sp", 4_100_000,
         "brightwater-analytics.example", None, "2025-01-20T09:00:00Z"),
        ("A-2010", "Carvalho & Filhos Lda.", "Textiles", "PT", "active", "mo", 12_300_000,
         "carvalho-filhos.example", None, "2024-07-12T12:10:00Z"),
        ("A-2011", "Polar Circuit Oy", "Electronics manufacturing", "FI", "prospect", "jk", 27_600_000,
         "polarcircuit.example", None, "2025-01-17T07:55:00Z"),
        ("A-2012", "Meridian Freight Forwarding S.A.", "Logistics", "ES", "churned", "sp", 19_400_000,
         "meridian-freight.example", None, "2024-06-03T17:25:00Z"),
        ("A-2013", "Oakridge Veterinary Group Inc.", "Healthcare", "CA", "active", "mo", 53_700_000,
         "oakridge-vet.example", None, "2024-12-11T10:40:00Z"),
        ("A-2014", "Tatra Precision Machining s.r.o.", "Industrial machinery", "CZ", "active", "sp", 31_900_000,
         "tatra-precision.example", None, "2024-10-02T06:50:00Z"),
        ("A-2015", "Bluefin Marine Supplies Pty Ltd", "Marine equipment", "AU", "prospect", "jk", 9_750_000,
         "bluefin-marine.example", None, "2025-01-22T22:30:00Z"),
    )
)  # fmt: skip

_DOMAINS = {a.id: a.website.removeprefix("https://www.") for a in SEED_ACCOUNTS}

# (account, first name, last name, title, phone); the first contact of each account is its primary.
_PEOPLE: tuple[tuple[str, str, str, str, str], ...] = (
    ("A-2001", "Anna", "Becker", "Head of Procurement", "+49 40 3190 2210"),
    ("A-2001", "Lukas", "Hoffmann", "Finance Director", "+49 40 3190 2245"),
    ("A-2001", "Mira", "Schulz", "Accounts Payable Lead", "+49 40 3190 2277"),
    ("A-2001", "Jonas", "Wagner", "Fleet Operations Manager", "+49 40 3190 2302"),
    ("A-2002", "Oliver", "Hughes", "Purchasing Manager", "+44 117 496 0731"),
    ("A-2002", "Priya", "Shah", "Chief Financial Officer", "+44 117 496 0755"),
    ("A-2003", "Daniel", "Reyes", "VP Supply Chain", "+1 312 555 0148"),
    ("A-2003", "Karen", "Whitfield", "Credit Manager", "+1 312 555 0162"),
    ("A-2003", "Tom", "Nakamura", "IT Integration Lead", "+1 312 555 0190"),
    ("A-2004", "Giulia", "Rossi", "Managing Director", "+39 051 648 2210"),
    ("A-2004", "Paolo", "Ferri", "Amministrazione", "+39 051 648 2233"),
    ("A-2005", "Erik", "Lindqvist", "Procurement Director", "+46 8 5062 1140"),
    ("A-2005", "Sara", "Holm", "Regulatory Affairs Manager", "+46 8 5062 1177"),
    ("A-2005", "Johan", "Berg", "Controller", "+46 8 5062 1189"),
    ("A-2006", "Pieter", "van Dijk", "Owner", "+31 10 714 3380"),
    ("A-2006", "Femke", "de Vries", "Financial Controller", "+31 10 714 3395"),
    ("A-2007", "Rachel", "Moore", "Office Manager", "+1 303 555 0117"),
    ("A-2007", "Greg", "Duncan", "Accounts Payable", "+1 303 555 0129"),
    ("A-2008", "Lea", "Brunner", "Director of Operations", "+41 27 966 4410"),
    ("A-2008", "Marc", "Favre", "Purchasing", "+41 27 966 4433"),
    ("A-2008", "Nina", "Zurbriggen", "Finance", "+41 27 966 4451"),
    ("A-2009", "Aoife", "Byrne", "CTO", "+353 1 907 3320"),
    ("A-2009", "Cian", "Murphy", "Head of Data", "+353 1 907 3341"),
    ("A-2010", "Rui", "Carvalho", "Administrador", "+351 253 290 114"),
    ("A-2010", "Inês", "Sousa", "Compras", "+351 253 290 131"),
    ("A-2011", "Mikko", "Virtanen", "Supply Chain Manager", "+358 9 4241 7710"),
    ("A-2011", "Laura", "Nieminen", "Sourcing Specialist", "+358 9 4241 7736"),
    ("A-2012", "Javier", "Morales", "Operations Director", "+34 963 205 418"),
    ("A-2012", "Lucía", "Navarro", "Administración", "+34 963 205 447"),
    ("A-2013", "Emily", "Tremblay", "Practice Operations Lead", "+1 613 555 0173"),
    ("A-2013", "Noah", "Gagnon", "Procurement Analyst", "+1 613 555 0186"),
    ("A-2013", "Chloé", "Roy", "Finance Manager", "+1 613 555 0199"),
    ("A-2014", "Tomáš", "Novák", "Plant Manager", "+420 2 3456 7810"),
    ("A-2014", "Petra", "Svobodová", "Nákup", "+420 2 3456 7833"),
    ("A-2015", "Liam", "O'Connor", "General Manager", "+61 2 9876 5410"),
    ("A-2015", "Mia", "Chen", "Procurement Officer", "+61 2 9876 5432"),
)


def _email(first: str, last: str, account_id: str) -> str:
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    # Plain ASCII local parts, as most legacy mail systems still require.
    local = local.translate(str.maketrans("áéíóúãõçèêëàâäöüåčšžýřě", "aeiouaoceeeaaaouacszyre"))
    return f"{local}@{_DOMAINS[account_id]}"


def _contacts() -> tuple[ContactRecord, ...]:
    seen: set[str] = set()
    contacts = []
    for number, (account_id, first, last, title, phone) in enumerate(_PEOPLE, start=3001):
        contacts.append(
            ContactRecord(
                id=f"CT-{number}",
                account_id=account_id,
                first_name=first,
                last_name=last,
                email=_email(first, last, account_id),
                phone=phone,
                title=title,
                is_primary=account_id not in seen,
            )
        )
        seen.add(account_id)
    return tuple(contacts)


SEED_CONTACTS: tuple[ContactRecord, ...] = _contacts()

SEED_NOTES: tuple[NoteRecord, ...] = tuple(
    NoteRecord(id=number, account_id=account_id, body=body, created_by=_OWNERS[owner], created_at=created)
    for number, (account_id, owner, created, body) in enumerate(
        (
            ("A-2001", "jk", "2024-10-02T08:45:00Z", "Annual review done; volumes up 12% year on year."),
            (
                "A-2001",
                "jk",
                "2024-11-04T09:12:00Z",
                "Asked about EDI invoicing; IT contact is Jonas Wagner.",
            ),
            ("A-2006", "sp", "2024-09-16T10:00:00Z", "Payment run slipped again; balance close to limit."),
            ("A-2006", "sp", "2024-10-07T13:30:00Z", "Pieter promised settlement of the August invoices."),
            ("A-2006", "sp", "2024-10-28T09:05:00Z", "Partial payment received (EUR 18,000)."),
            (
                "A-2006",
                "sp",
                "2024-11-19T15:50:00Z",
                "New large order requested; needs a credit-limit review.",
            ),
            (
                "A-2006",
                "sp",
                "2024-12-03T11:20:00Z",
                "Finance asked for 2023 annual accounts before any raise.",
            ),
            ("A-2006", "sp", "2024-12-20T16:00:00Z", "Annual accounts received; solid equity, weak Q3 cash."),
            ("A-2006", "sp", "2025-01-09T10:15:00Z", "Account put on hold pending the review."),
            (
                "A-2007",
                "mo",
                "2024-12-12T14:00:00Z",
                "Over limit after the November order; shipments paused.",
            ),
            ("A-2007", "mo", "2025-01-06T09:40:00Z", "Greg confirmed payment by 31 January."),
            ("A-2007", "mo", "2025-01-14T15:45:00Z", "On hold until the payment lands."),
            (
                "A-2012",
                "sp",
                "2024-06-03T17:25:00Z",
                "Moved all forwarding to a competitor; closed as churned.",
            ),
        ),
        start=1,
    )
)
