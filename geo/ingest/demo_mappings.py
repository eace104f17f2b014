"""Mappings for the demo borough's six source-system extracts (see ``geo.demo.extracts``).

They are what a council analyst would write for their own systems: which column is the
reference, the date and its format, how each system words its services and channels.
Personal columns (``Full Name``, ``Telephone``, ``Email``, ``Date of Birth``, ``Notes``)
are not mentioned: the ingest finds and drops them by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Connection

    from geo.ingest.report import BatchReport

_ASB = "asb_reports"

DEMO_EXTRACT_MAPPINGS: dict[str, dict[str, Any]] = {
    "council_crm": {
        "columns": {
            "source_ref": "Case Ref",
            "service_code": "Service",
            "event_date": "Date Logged",
            "channel": "Contact Method",
            "address": "Address",
            "postcode": "Postcode",
            "uprn": "UPRN",
        },
        "constants": {"source_system": "council_crm"},
        "values": {
            "service_code": {
                "Anti-social behaviour": _ASB,
                "ASB report": _ASB,
                "Anti Social Behaviour": _ASB,
                "Concessionary travel - older person": "bus_pass",
                "Bus pass (older person)": "bus_pass",
            },
            "channel": {"Web form": "web", "Telephone": "phone", "Walk-in": "face_to_face", "Letter": "post"},
        },
        "date_format": "%d/%m/%Y",
    },
    "police_incidents": {
        "columns": {
            "source_ref": "Incident No",
            "service_code": "Incident Type",
            "event_date": "Reported",
            "channel": "Reporting Method",
            "address": "Location",
            "x": "Easting",
            "y": "Northing",
        },
        "constants": {"source_system": "police_incidents"},
        "values": {
            "service_code": {"ASB - Personal": _ASB, "ASB - Nuisance": _ASB, "ASB - Environmental": _ASB},
            "channel": {
                "Online report": "web",
                "101 call": "phone",
                "Front counter": "face_to_face",
                "Letter": "post",
            },
        },
        "date_format": "%Y-%m-%d %H:%M",
    },
    "fire_hfsv": {
        "columns": {
            "source_ref": "Visit ID",
            "service_code": "Visit Type",
            "event_date": "Visit Date",
            "channel": "Referral Route",
            "address": "Address Line 1",
            "locality": "Address Line 2",
            "town": "Town",
            "postcode": "Postcode",
            "latitude": "Latitude",
            "longitude": "Longitude",
        },
        "constants": {"source_system": "fire_hfsv"},
        "values": {
            "service_code": {
                "Home Fire Safety Visit": "fire_hsv",
                "HFSV": "fire_hsv",
                "Safe and Well visit": "fire_hsv",
            },
            "channel": {
                "Online referral": "web",
                "Phone referral": "phone",
                "Partner referral": "face_to_face",
                "Letter": "post",
            },
        },
        "date_format": "%Y-%m-%d",
    },
    "council_revenues": {
        "columns": {
            "source_ref": "Transaction Ref",
            "service_code": "Transaction Type",
            "event_date": "Transaction Date",
            "channel": "Payment Method",
            "address": "Property Address",
            "postcode": "Postcode",
            "uprn": "UPRN",
        },
        "constants": {"source_system": "council_revenues"},
        "values": {
            "service_code": {
                "Council Tax Payment": "council_tax_payment",
                "CTAX PAYMENT": "council_tax_payment",
                "HB New Claim": "housing_benefit",
                "Housing Benefit - new claim": "housing_benefit",
            },
            "channel": {
                "DD": "direct_debit",
                "Web card payment": "online_payment",
                "BACS": "bank",
                "Cashier": "council_cashier",
                "PayPoint/PO": "post_office",
                "Online claim": "web",
                "Phone": "phone",
                "Counter": "face_to_face",
                "Paper form": "post",
            },
        },
        "date_format": "%d/%m/%Y",
    },
    "council_libraries": {
        "columns": {
            "source_ref": "Borrower No",
            "service_code": "Membership Type",
            "event_date": "Joined",
            "channel": "Joined Via",
            "address": "Address",
            "postcode": "Postcode",
        },
        "constants": {"source_system": "council_libraries"},
        "values": {
            "service_code": {
                "Adult": "library_membership",
                "Family": "library_membership",
                "Junior": "library_membership",
                "Concession": "library_membership",
            },
            "channel": {"In branch": "face_to_face", "Online": "web"},
        },
        "date_format": "%d-%b-%Y",
    },
    "council_education": {
        "columns": {
            "source_ref": "Application Ref",
            "service_code": "Scheme",
            "event_date": "Date Received",
            "channel": "Applied By",
            "address": "Address",
            "postcode": "Postcode",
            "uprn": "UPRN",
        },
        "constants": {"source_system": "council_education"},
        "values": {
            "service_code": {"Free School Meals": "free_school_meals", "FSM": "free_school_meals"},
            "channel": {"Online": "web", "Phone": "phone", "Paper": "post"},
        },
        "date_format": "%Y-%m-%d",
    },
}


def ingest_demo_extracts(
    conn: Connection, extracts: dict[str, pd.DataFrame], *, salt: str, created_by: str = "demo"
) -> dict[str, BatchReport]:
    """Route the demo's raw extracts through the ingest path, one batch per system.

    Call it inside the demo load's transaction, after the gazetteer, postcodes, areas,
    memberships, services and channels are in, and *instead of* copying the generated
    events (the extracts hold the same events; loading both would count them twice).
    With ``salt=DEMO_SALT`` the stored ``source_ref_hash`` and ``household_key`` follow
    the formulas in ``truth['household_key']``.
    """
    from geo.ingest.batch import ingest_frame

    return {
        system: ingest_frame(
            conn,
            "events",
            frame,
            DEMO_EXTRACT_MAPPINGS[system],
            salt=salt,
            filename=f"{system}.csv",
            created_by=created_by,
        )
        for system, frame in extracts.items()
    }
