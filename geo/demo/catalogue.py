"""Fixed reference content of the demo borough: segments, channels, services and names.

Everything here was written for Wardwise; the segments are not any commercial
classification's. Numbers here are the *truth* the generator draws from: the per-segment
service rates are copied into ``truth['services'][code]['rates']`` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Place types the generator knows; segment priors are given per place type.
PLACE_TYPES: tuple[str, ...] = (
    "coastal_core",
    "coastal_outer",
    "market_core",
    "market_outer",
    "village",
    "country",
)

CONTACT_CHANNELS: tuple[str, ...] = ("web", "phone", "face_to_face", "post")
PAYMENT_CHANNELS: tuple[str, ...] = (
    "direct_debit",
    "online_payment",
    "bank",
    "council_cashier",
    "post_office",
)


@dataclass(frozen=True)
class SegmentSpec:
    """One household segment: pen portrait plus the generator's parameters."""

    code: str
    name: str
    description: str
    typical_households: str
    preferred_channels: list[str]
    preferred_media: list[str]
    key_issues: list[str]
    colour: str
    place_prior: tuple[float, ...]  # log-weight per PLACE_TYPES entry
    contact_pref: tuple[float, ...]  # share per CONTACT_CHANNELS entry
    payment_pref: tuple[float, ...]  # share per PAYMENT_CHANNELS entry
    household_size: float  # mean persons per household


# Colours: Paul Tol's discrete rainbow scheme for 12 classes, designed to stay
# distinguishable under the common colour-vision deficiencies
# (P. Tol, "Colour Schemes", SRON/EPS/TN/09-002, fig. 22).
SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        "A",
        "Harbourside Starters",
        "Young singles and couples renting flats above shops and in converted houses near "
        "Saltmouth's harbour and high street. Busy, mobile-first and often new to the area.",
        "Under-30s living alone or as couples, private renters, first jobs in retail, care "
        "and the port; few children.",
        ["web", "phone"],
        ["mobile apps", "social media", "text messages"],
        ["rent and deposits", "night-time noise", "bus links to work"],
        "#D1BBD7",
        (2.0, 0.4, 1.0, -0.6, -2.2, -3.0),
        (0.75, 0.15, 0.07, 0.03),
        (0.35, 0.45, 0.12, 0.03, 0.05),
        1.6,
    ),
    SegmentSpec(
        "B",
        "Seafront Seniors",
        "Retired couples and widowed owners in bungalows and semis along the coast road, "
        "long-settled, active in clubs and churches, careful with money.",
        "Owner-occupiers over 65, mostly couples; grown-up children live elsewhere.",
        ["phone", "face_to_face"],
        ["local newspaper", "parish magazine", "radio"],
        ["coastal erosion", "GP access", "bus pass and rural buses"],
        "#AE76A3",
        (0.4, 1.6, -0.5, 0.0, -0.4, -2.0),
        (0.20, 0.45, 0.25, 0.10),
        (0.55, 0.08, 0.12, 0.12, 0.13),
        1.7,
    ),
    SegmentSpec(
        "C",
        "Market Town Families",
        "Owner-occupier families on the newer estates at the edge of the market towns; "
        "both parents work, school run and weekend sport dominate.",
        "Couples aged 30-50 with school-age children, mortgaged semis and detached houses.",
        ["web", "phone"],
        ["email", "school newsletters", "social media"],
        ["school places", "traffic and parking", "play areas"],
        "#882E72",
        (-1.0, 0.5, 0.5, 1.8, 0.0, -1.5),
        (0.60, 0.25, 0.12, 0.03),
        (0.60, 0.25, 0.10, 0.02, 0.03),
        3.4,
    ),
    SegmentSpec(
        "D",
        "Village Establishment",
        "Comfortable older owner-occupiers in period houses in the larger villages; "
        "run the parish council, the fete and the footpath society.",
        "Couples in their 50s-70s, owned outright, high equity, often with a second car.",
        ["web", "phone"],
        ["email", "parish newsletter", "local newspaper"],
        ["planning and development", "broadband", "village services"],
        "#1965B0",
        (-2.5, -1.0, -1.0, 0.0, 2.0, 1.0),
        (0.50, 0.30, 0.10, 0.10),
        (0.75, 0.10, 0.10, 0.02, 0.03),
        2.2,
    ),
    SegmentSpec(
        "E",
        "Farm and Field",
        "Households in farmhouses, tied cottages and hamlets across open country, tied to "
        "agriculture and the land; far from services and reliant on the car.",
        "Farming families and rural workers of all ages, some multi-generation households.",
        ["phone", "post"],
        ["local radio", "farming press", "letters"],
        ["rural isolation", "road maintenance", "mobile signal"],
        "#5289C7",
        (-4.0, -3.0, -3.0, -2.0, 0.3, 2.8),
        (0.25, 0.45, 0.15, 0.15),
        (0.55, 0.08, 0.17, 0.08, 0.12),
        2.6,
    ),
    SegmentSpec(
        "F",
        "Stretched Terraces",
        "Low-income working families in the older Victorian terraces of Saltmouth and the "
        "market-town centres, juggling insecure work and rising costs.",
        "Families and lone parents, private and social renters, seasonal and shift work.",
        ["phone", "face_to_face"],
        ["text messages", "social media", "community noticeboards"],
        ["cost of living", "damp housing", "school meals and uniforms"],
        "#7BAFDE",
        (1.8, 0.8, 1.2, -0.5, -1.5, -3.0),
        (0.30, 0.40, 0.25, 0.05),
        (0.20, 0.20, 0.10, 0.25, 0.25),
        3.0,
    ),
    SegmentSpec(
        "G",
        "Estate Strugglers",
        "Social-housing estates on the edge of Saltmouth and the towns, with high "
        "unemployment, long-term illness and many households on benefits.",
        "Social renters: lone parents, disabled adults, older single people; low car ownership.",
        ["face_to_face", "phone"],
        ["word of mouth", "community centres", "text messages"],
        ["anti-social behaviour", "benefits and debt", "repairs"],
        "#4EB265",
        (0.8, 1.5, 0.5, 0.8, -2.0, -3.5),
        (0.20, 0.40, 0.35, 0.05),
        (0.12, 0.15, 0.08, 0.35, 0.30),
        2.7,
    ),
    SegmentSpec(
        "H",
        "Comfortable Commuters",
        "Dual-income professionals in large modern homes on the edge of towns and in "
        "commuter villages with a station, doing everything online.",
        "Couples aged 35-60, high incomes, children at secondary school or university.",
        ["web"],
        ["email", "apps", "national news sites"],
        ["commuting", "broadband speed", "council tax value"],
        "#CAE0AB",
        (-1.0, 0.8, -0.5, 1.5, 1.0, 0.0),
        (0.80, 0.12, 0.05, 0.03),
        (0.70, 0.25, 0.04, 0.005, 0.005),
        3.0,
    ),
    SegmentSpec(
        "I",
        "Frail and Alone",
        "Very elderly people living alone in sheltered flats, small terraces and "
        "almshouses, many with limited mobility and care needs.",
        "Single pensioners over 80, mostly women, many receiving care at home.",
        ["phone", "post", "face_to_face"],
        ["letters", "local radio", "visits from carers"],
        ["loneliness", "falls and fire risk", "getting to appointments"],
        "#F7F056",
        (1.0, 0.8, 1.0, 0.2, 0.3, -0.5),
        (0.05, 0.40, 0.30, 0.25),
        (0.35, 0.03, 0.07, 0.25, 0.30),
        1.1,
    ),
    SegmentSpec(
        "J",
        "Seasonal and Shared",
        "Shared houses and bedsits in the town centre and caravan-park edges: seasonal "
        "tourism and agricultural workers, students, high turnover.",
        "Unrelated adults sharing, short tenancies, many recently arrived.",
        ["web", "face_to_face"],
        ["mobile apps", "social media", "messaging"],
        ["housing conditions", "work permits and pay", "noise and parking disputes"],
        "#F4A736",
        (2.2, -0.5, 0.3, -1.5, -2.5, -0.8),
        (0.70, 0.15, 0.13, 0.02),
        (0.15, 0.50, 0.10, 0.10, 0.15),
        2.8,
    ),
    SegmentSpec(
        "K",
        "Coastal Retirement Incomers",
        "Recently retired couples who moved to the coast and its villages for the quiet "
        "life; confident, connected and keen volunteers.",
        "Couples 60-75 who own outright; moved in from cities within the last ten years.",
        ["web", "phone"],
        ["email", "local Facebook groups", "local newspaper"],
        ["health services", "coastal paths", "public transport"],
        "#E8601C",
        (-0.5, 1.2, -1.0, -0.5, 1.3, 0.3),
        (0.45, 0.35, 0.12, 0.08),
        (0.65, 0.15, 0.10, 0.04, 0.06),
        1.9,
    ),
    SegmentSpec(
        "L",
        "Young Village Families",
        "Younger families on modest incomes in ex-council and newer affordable homes in "
        "villages and small towns, stretched by childcare and travel.",
        "Couples in their 20s-30s with pre-school and primary children; one car.",
        ["web", "phone"],
        ["social media", "school apps", "text messages"],
        ["childcare", "village school", "rural buses"],
        "#DC050C",
        (-2.0, -0.5, -0.5, 0.8, 1.5, 0.2),
        (0.65, 0.22, 0.10, 0.03),
        (0.50, 0.30, 0.12, 0.03, 0.05),
        3.8,
    ),
)

CLASSIFICATION: dict[str, Any] = {
    "code": "wardwise12",
    "name": "Wardwise 12 household segments (demo)",
    "unit": "household",
    "area_level": None,
    "description": "Twelve invented household segments for the demo borough, with pen portraits.",
    "source": "Wardwise demo generator",
}

# code, name, kind, unit cost (GBP per transaction), is_digital.
# Contact costs keep the 1:4:12:12 ratio of web:phone:face-to-face:post; payment costs
# are per-transaction figures of the kind councils publish for channel-shift cases.
CHANNELS: tuple[tuple[str, str, str, float, bool], ...] = (
    ("web", "Website / online form", "contact", 1.00, True),
    ("phone", "Telephone", "contact", 4.00, False),
    ("face_to_face", "Face to face", "contact", 12.00, False),
    ("post", "Letter / post", "contact", 12.00, False),
    ("direct_debit", "Direct debit", "payment", 0.04, False),
    ("online_payment", "Online card payment", "payment", 0.09, True),
    ("bank", "Bank transfer / standing order", "payment", 0.09, False),
    ("council_cashier", "Council cashier", "payment", 0.73, False),
    ("post_office", "Post Office / PayPoint", "payment", 1.44, False),
)


@dataclass(frozen=True)
class ServiceSpec:
    """One demo service: table row content plus rates and how it is reported."""

    code: str
    name: str
    category: str
    description: str
    owner: str
    unit: str  # 'events' (Poisson count per household) | 'membership' (Bernoulli)
    channels: tuple[str, ...]
    # rate per household over the 24-month period, per segment A..L:
    # expected events for 'events', probability of membership for 'membership'
    rates: tuple[float, ...]
    # source system -> share of the service's events it records
    systems: dict[str, float]
    season: str  # 'flat' | 'summer' | 'winter' | 'september' | 'weekday'
    unit_costs: dict[str, float] | None = field(default=None)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "asb_reports",
        "Anti-social behaviour reports",
        "community safety",
        "Reports of anti-social behaviour made to the police or the council.",
        "police",
        "events",
        ("web", "phone", "face_to_face"),
        (0.25, 0.08, 0.12, 0.05, 0.03, 0.35, 0.55, 0.05, 0.10, 0.45, 0.06, 0.10),
        {"police_incidents": 0.6, "council_crm": 0.4},
        "summer",
    ),
    ServiceSpec(
        "bus_pass",
        "Older people's bus passes",
        "transport",
        "Households holding an older person's concessionary bus pass.",
        "council",
        "membership",
        ("web", "phone", "face_to_face", "post"),
        (0.01, 0.40, 0.03, 0.22, 0.12, 0.05, 0.10, 0.04, 0.38, 0.01, 0.30, 0.02),
        {"council_crm": 1.0},
        "weekday",
    ),
    ServiceSpec(
        "library_membership",
        "Library membership",
        "culture and leisure",
        "Households with at least one active library member.",
        "council",
        "membership",
        ("face_to_face", "web"),
        (0.10, 0.20, 0.30, 0.25, 0.08, 0.12, 0.10, 0.22, 0.15, 0.08, 0.28, 0.35),
        {"council_libraries": 1.0},
        "flat",
    ),
    ServiceSpec(
        "council_tax_payment",
        "Council tax payments",
        "revenues",
        "Council-tax payment transactions sampled from the revenues system (one in five), "
        "with the channel used.",
        "council",
        "events",
        PAYMENT_CHANNELS,
        (0.6, 0.5, 0.3, 0.2, 0.45, 1.1, 1.25, 0.15, 0.8, 1.0, 0.25, 0.4),
        {"council_revenues": 1.0},
        "weekday",
    ),
    ServiceSpec(
        "housing_benefit",
        "Housing benefit claims",
        "benefits",
        "Households making a housing benefit claim in the period.",
        "council",
        "membership",
        ("web", "phone", "face_to_face", "post"),
        (0.12, 0.06, 0.04, 0.01, 0.03, 0.25, 0.38, 0.005, 0.20, 0.22, 0.02, 0.05),
        {"council_revenues": 1.0},
        "weekday",
        {"face_to_face": 15.00},
    ),
    ServiceSpec(
        "free_school_meals",
        "Free school meals",
        "education",
        "Households with a child registered for free school meals.",
        "council",
        "membership",
        ("web", "phone", "post"),
        (0.02, 0.001, 0.07, 0.01, 0.05, 0.28, 0.36, 0.005, 0.001, 0.04, 0.002, 0.12),
        {"council_education": 1.0},
        "september",
    ),
    ServiceSpec(
        "fire_hsv",
        "Fire home safety visits",
        "community safety",
        "Home fire safety visits carried out by the fire and rescue service.",
        "fire",
        "events",
        ("phone", "web", "face_to_face"),
        (0.03, 0.18, 0.04, 0.05, 0.08, 0.12, 0.14, 0.02, 0.36, 0.06, 0.12, 0.04),
        {"fire_hfsv": 1.0},
        "winter",
    ),
)

#: Services with a tougher planted truth (issue 13): drawn after, and from a stream apart from,
#: the services above, so those services' draws are unchanged. ``fly_tipping`` is a null with
#: area-level overdispersion (negative-binomial counts: a gamma multiple per OA, no clusters);
#: ``social_care`` carries strong, weak and small clusters and an under-served segment
#: (its ``rates`` are the *need* rates; the generator draws segment I at half of its need);
#: ``pest_control`` carries an emerging and a fading cluster over months. See
#: ``generate._tough_services``.
TOUGH_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "fly_tipping",
        "Fly-tipping reports",
        "environment",
        "Reports of fly-tipped waste; counts vary between areas more than chance alone allows.",
        "council",
        "events",
        ("web", "phone"),
        (0.20, 0.05, 0.10, 0.06, 0.12, 0.25, 0.30, 0.05, 0.08, 0.28, 0.05, 0.10),
        {"council_streetscene": 1.0},
        "summer",
    ),
    ServiceSpec(
        "social_care",
        "Adult social care contacts",
        "social care",
        "Contacts with adult social care (assessments, reviews, information and advice).",
        "council",
        "events",
        ("phone", "web", "face_to_face", "post"),
        (0.05, 0.55, 0.10, 0.20, 0.15, 0.30, 0.35, 0.08, 0.80, 0.20, 0.45, 0.08),
        {"council_care": 1.0},
        "flat",
    ),
    ServiceSpec(
        "pest_control",
        "Pest control requests",
        "environment",
        "Requests for the council's pest control service (rats, wasps, bedbugs).",
        "council",
        "events",
        ("web", "phone"),
        (0.20, 0.12, 0.18, 0.15, 0.25, 0.30, 0.35, 0.10, 0.15, 0.30, 0.12, 0.20),
        {"council_streetscene": 1.0},
        "flat",
    ),
)

# ----------------------------------------------------------------------------- names

DISTRICT_NAME = "Saltmarsh Coast"
COASTAL_TOWN = "Saltmouth"
MARKET_TOWNS = ("Brackenham", "Wenfield Market", "Cleybridge")
VILLAGES = (
    "Ashby Fen",
    "Thornwick",
    "Little Hawsey",
    "Great Hawsey",
    "Saxmere",
    "Holbeck Green",
    "Eastwold",
    "Cressing Parva",
    "Wickhamby",
    "Bulcamp End",
    "Oxley Heath",
    "Stonegate",
    "Kelton Row",
    "Marram",
    "Felsham Magna",
    "Dunwick St Peter",
    "Reedmere",
    "Coldharbour",
    "Sallowby",
    "Nether Tolly",
    "Brinkley Staithe",
    "Hoxmere",
    "Gorsey Ling",
    "Widdenham",
    "Orwell Parva",
    "Fennick",
    "Tunstead Cross",
    "Larkby",
    "Shingle Street End",
    "Mallowby",
    "Peasenhall Parva",
    "Cobbold Green",
)
# Neighbourhood names for wards inside a town large enough to hold several.
NEIGHBOURHOODS = (
    "Harbour",
    "Denes",
    "Cliff",
    "Saltings",
    "Lighthouse",
    "Priory",
    "Northfield",
    "Seagate",
    "Netherfield",
    "Fishergate",
    "Kirkgate",
    "Old Town",
    "Meadowlands",
    "St Botolph's",
    "Beacon",
    "Marshside",
    "Common",
    "Millfield",
    "Westgate",
    "Grange",
)
STREET_STEMS = (
    "Coronation",
    "Victoria",
    "Albert",
    "Station",
    "Church",
    "Chapel",
    "Mill",
    "Manor",
    "Park",
    "Queen's",
    "King's",
    "Princes",
    "High",
    "Market",
    "Bridge",
    "Ferry",
    "Harbour",
    "Marsh",
    "Fen",
    "Meadow",
    "Orchard",
    "Beech",
    "Oak",
    "Elm",
    "Willow",
    "Ash",
    "Holly",
    "Rowan",
    "Hazel",
    "Lime",
    "Cedar",
    "Poplar",
    "Sycamore",
    "Larch",
    "Alder",
    "Birch",
    "Gorse",
    "Heather",
    "Bramble",
    "Sandy",
    "Shingle",
    "Dune",
    "Beacon",
    "Lighthouse",
    "Anchor",
    "Trinity",
    "St Mary's",
    "St John's",
    "St Peter's",
    "St Edmund's",
    "Abbey",
    "Priory",
    "Castle",
    "Windmill",
    "Granary",
    "Maltings",
    "Tannery",
    "Ropewalk",
    "Quay",
    "Wharf",
    "Smugglers",
    "Mariners",
    "Fishermen's",
    "Net",
    "Kiln",
    "Forge",
    "Pound",
    "Green",
    "Common",
    "Heath",
    "Warren",
    "Copse",
    "Spinney",
    "Grange",
    "Hall",
    "Rectory",
    "Vicarage",
    "School",
    "Pump",
    "Well",
    "Brook",
    "Spring",
    "Pond",
    "Wren",
    "Lark",
    "Kestrel",
    "Heron",
    "Swallow",
    "Avocet",
    "Plover",
    "Curlew",
    "Nelson",
    "Wellington",
    "Gladstone",
    "Cromwell",
    "Tudor",
    "Stuart",
    "Jubilee",
    "Empire",
    "Alexandra",
    "York",
    "Lancaster",
    "Windsor",
    "Clarence",
    "Cavendish",
    "Seymour",
    "Howard",
    "Russell",
)
STREET_SUFFIXES = (
    "Street",
    "Road",
    "Lane",
    "Close",
    "Avenue",
    "Way",
    "Drive",
    "Crescent",
    "Gardens",
    "Place",
    "Terrace",
    "Walk",
)
# Standard abbreviations a clerk might type; the planted 'abbreviation' defect uses them.
SUFFIX_ABBREVIATIONS = {
    "Street": "St",
    "Road": "Rd",
    "Lane": "Ln",
    "Close": "Cl",
    "Avenue": "Ave",
    "Way": "Wy",
    "Drive": "Dr",
    "Crescent": "Cres",
    "Gardens": "Gdns",
    "Place": "Pl",
    "Terrace": "Ter",
    "Walk": "Wlk",
}
HOUSE_NAMES = (
    "The Laurels",
    "Rose Cottage",
    "The Old Forge",
    "Ivy House",
    "Fern Lodge",
    "The Old School House",
    "Orchard View",
    "Sea View",
    "Windrush",
    "The Beeches",
    "Holly Cottage",
    "The Granary",
    "Mill House",
    "Wren Cottage",
    "Field End",
    "The Old Rectory",
    "Meadowside",
    "Lavender Cottage",
    "Harbour Lights",
    "The Nook",
    "Brambles",
    "Sunnyside",
    "Greenacres",
    "The Willows",
    "Apple Tree Cottage",
    "Dune Cottage",
    "Marsh Farmhouse",
    "The Old Bakery",
    "Kiln Cottage",
    "Heron's Rest",
)
FARM_LANE_STEMS = (
    "Manor Farm",
    "Hall Farm",
    "Grange Farm",
    "Church Farm",
    "Valley Farm",
    "Low Farm",
    "High House",
    "Red House Farm",
    "Moat Farm",
    "Lodge Farm",
    "Marsh Farm",
    "Heath Farm",
)
FIRST_NAMES = (
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Grace",
    "Lily",
    "Freya",
    "Emily",
    "Ella",
    "Margaret",
    "Susan",
    "Janet",
    "Patricia",
    "Linda",
    "Karen",
    "Joan",
    "Dorothy",
    "Oliver",
    "George",
    "Harry",
    "Noah",
    "Jack",
    "Leo",
    "Arthur",
    "Oscar",
    "Charlie",
    "Thomas",
    "David",
    "John",
    "Michael",
    "Peter",
    "Robert",
    "Paul",
    "Andrew",
    "Mark",
    "Tomasz",
    "Agnieszka",
    "Andrius",
    "Ionut",
    "Priya",
    "Mohammed",
    "Aisha",
    "Chen",
)
SURNAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Thurston",
    "Cattermole",
    "Gooderham",
    "Brundle",
    "Kerrison",
    "Mayhew",
    "Sillett",
    "Ling",
    "Balls",
    "Cady",
    "Nowak",
    "Kowalski",
    "Petrauskas",
    "Popescu",
    "Patel",
    "Khan",
    "Begum",
    "Wang",
)
NOTES = {
    "asb_reports": (
        "Caller reports youths gathering and shouting late at night",
        "Noise from neighbouring property most evenings, music until 2am",
        "Repeat report of motorbikes on the seafront green",
        "Graffiti on bus shelter and fence, not the first time",
        "Neighbour dispute over parking, verbal abuse reported",
        "Fly-tipping and rubbish burning in rear alley",
    ),
    "bus_pass": (
        "Renewal, photo supplied",
        "New application, proof of age seen",
        "Lost pass, replacement requested",
        "Disabled person's pass, GP letter attached",
    ),
    "library_membership": (
        "Joined at summer reading event",
        "Family membership",
        "Home library service",
        "Re-joined after lapse",
    ),
    "council_tax_payment": (
        "Instalment",
        "Arrears payment",
        "Paid in full",
        "Part payment, reminder issued",
    ),
    "housing_benefit": (
        "New claim, evidence outstanding",
        "Change of circumstances",
        "Backdating requested",
        "Claim following job loss",
    ),
    "free_school_meals": (
        "New application for reception child",
        "Eligibility check passed",
        "Transferred from other authority",
        "Universal credit evidence seen",
    ),
    "fire_hsv": (
        "Smoke alarms fitted on both floors",
        "Referred by carer, lives alone",
        "Hoarding concern, follow-up booked",
        "Oxygen user, partner agency referral",
    ),
}


def segment_matrix(attribute: str) -> np.ndarray:
    """Return one numeric attribute of every segment stacked as a (12, k) array."""
    return np.array([getattr(s, attribute) for s in SEGMENTS], dtype=float)
