"""Fixed vocabularies of the synthetic history: ports, countries, product categories, words.

Port codes are real CBP Schedule D codes (checked against CBP's air-AMS port listing and the
Schedule D table); everything else is invented but shaped after the OIG-22-52 audit figures.
"""
from __future__ import annotations

from dataclasses import dataclass

MODES = ("express", "mail", "cargo")
# Share of shipments by mode. Express and mail dominate counterfeit seizures (FY2018:
# express 64%, mail 28.5%, cargo 4.9%); cargo is a smaller share of low-value shipments.
MODE_SHARE = (0.50, 0.33, 0.17)

# port code -> (name, weight within each mode: express, mail, cargo)
PORTS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "4701": ("JFK International Airport (ISC)", (0.14, 0.30, 0.03)),
    "2720": ("Los Angeles International Airport (ISC)", (0.12, 0.20, 0.03)),
    "5206": ("Miami International Airport (ISC)", (0.08, 0.12, 0.02)),
    "3901": ("Chicago (O'Hare ISC)", (0.08, 0.20, 0.04)),
    "2801": ("San Francisco International Airport (ISC)", (0.04, 0.18, 0.02)),
    "2006": ("Memphis (FedEx hub)", (0.20, 0.0, 0.03)),
    "4196": ("Louisville (UPS hub)", (0.18, 0.0, 0.03)),
    "1704": ("Atlanta", (0.04, 0.0, 0.05)),
    "5309": ("Houston Intercontinental Airport", (0.04, 0.0, 0.04)),
    "3029": ("Seattle-Tacoma International Airport", (0.03, 0.0, 0.03)),
    "1305": ("Baltimore-Washington International Airport", (0.03, 0.0, 0.03)),
    "0417": ("Boston Logan Airport", (0.02, 0.0, 0.02)),
    "2704": ("Los Angeles (seaport)", (0.0, 0.0, 0.15)),
    "2709": ("Long Beach", (0.0, 0.0, 0.13)),
    "4601": ("Newark / New York", (0.0, 0.0, 0.12)),
    "1001": ("New York", (0.0, 0.0, 0.05)),
    "5301": ("Houston", (0.0, 0.0, 0.07)),
    "3001": ("Seattle", (0.0, 0.0, 0.05)),
    "1303": ("Baltimore", (0.0, 0.0, 0.04)),
    "0901": ("Buffalo", (0.0, 0.0, 0.03)),
}

CARRIERS = {
    "express": ("FDX", "UPS", "DHL"),
    "mail": ("USPS",),
    "cargo": ("MAEU", "COSU", "EGLV", "ONEY", "CMDU", "HLCU"),
}
# Express carriers arrive mostly at their own hub.
CARRIER_HUB = {"FDX": "2006", "UPS": "4196"}

# country -> (share of shipments, violation multiplier). China and Hong Kong make ~83% of
# seizures; other origins violate far less often.
COUNTRIES: dict[str, tuple[float, float]] = {
    "CN": (0.46, 1.0), "HK": (0.07, 1.3), "VN": (0.05, 0.55), "IN": (0.04, 0.66),
    "MX": (0.04, 0.33), "DE": (0.04, 0.22), "GB": (0.04, 0.22), "JP": (0.03, 0.22),
    "KR": (0.04, 0.33), "TR": (0.03, 0.66), "IT": (0.03, 0.26), "FR": (0.02, 0.22),
    "CA": (0.04, 0.22), "TW": (0.03, 0.44), "TH": (0.02, 0.55), "BD": (0.02, 0.44),
    "PK": (0.02, 0.55), "CH": (0.02, 0.18),
}


@dataclass(frozen=True)
class Category:
    """A product family: tariff codes, description words and value/weight scales."""

    name: str
    share: float
    mode_weight: tuple[float, float, float]   # relative propensity per mode
    hts: tuple[str, ...]
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    brand_share: float          # share of descriptions naming a brand
    value_median: float         # USD
    kg_per_unit: float


BAG_BRANDS = ("LOUIS VUITTON", "LOUIS VUITON", "LV", "GUCCI", "GUCCCI", "CHANEL", "PRADA",
              "MICHAEL KORS", "COACH", "HERMES", "FENDI")
WATCH_BRANDS = ("ROLEX", "ROLLEX", "OMEGA", "CARTIER", "TAG HEUER", "AUDEMARS", "PATEK")
SHOE_BRANDS = ("NIKE", "NIKEE", "JORDAN", "AIR JORDAN", "YEEZY", "ADIDAS", "ADDIDAS")
VAGUE_WORDS = ("GIFT", "SAMPLE", "ACCESSORIES", "PERSONAL ITEMS", "GOODS", "PARTS")

CATEGORIES: tuple[Category, ...] = (
    Category("handbags", 0.08, (1.4, 1.0, 0.4), ("4202210000", "4202229000", "4202310000"),
             ("HANDBAG", "HANDBAGE", "LADIES HANDBAG", "PURSE", "WALLET", "TOTE BAG",
              "SHOULDER BAG"), BAG_BRANDS, 0.30, 60.0, 0.6),
    Category("watches", 0.05, (1.2, 1.2, 0.2), ("9102110000", "9102190000", "9101110000"),
             ("WATCH", "WRIST WATCH", "MENS WATCH", "WATCHES"), WATCH_BRANDS, 0.25, 80.0, 0.2),
    Category("tshirts", 0.10, (1.0, 1.0, 1.2), ("6109100012", "6109100004"),
             ("T-SHIRT", "TSHIRT", "COTTON T SHIRT", "TEE SHIRT"), ("SUPREME", "NIKE"),
             0.08, 25.0, 0.2),
    Category("apparel", 0.10, (1.0, 1.0, 1.5), ("6110202079", "6204624011", "6203424011"),
             ("SWEATER", "JEANS", "TROUSERS", "HOODIE", "DRESS", "JACKET"),
             ("SUPREME", "MONCLER", "CANADA GOOSE"), 0.06, 45.0, 0.5),
    Category("footwear", 0.08, (1.1, 1.3, 0.6), ("6403990000", "6404110000", "6402990000"),
             ("SNEAKERS", "SHOES", "SPORT SHOES", "RUNNING SHOE", "BOOTS"), SHOE_BRANDS,
             0.25, 55.0, 0.9),
    Category("brake_parts", 0.03, (1.2, 0.2, 1.0), ("8708300050", "8708300090"),
             ("BRAKE PADS", "BRAKE PAD SET", "DISC BRAKE PAD", "BRAKE SHOES"),
             ("BOSCH", "BREMBO", "AKEBONO"), 0.35, 400.0, 6.0),
    Category("fishing_reels", 0.015, (1.0, 1.0, 0.8), ("9507300000",),
             ("FISHING REEL", "SPINNING REEL", "BAITCASTING REEL", "REEL"),
             ("SHIMANO", "DAIWA", "PENN", "ABU GARCIA"), 0.40, 70.0, 0.4),
    Category("medicaments", 0.03, (1.0, 1.3, 0.5), ("3004900000", "3004909290"),
             ("TABLETS", "CAPSULES", "MEDICINE", "VITAMINS", "SUPPLEMENT"), ("VIAGRA", "CIALIS"),
             0.10, 40.0, 0.3),
    Category("electronics", 0.12, (1.2, 0.8, 1.2), ("8517620000", "8518300000", "8471300100"),
             ("BLUETOOTH HEADSET", "EARPHONES", "PHONE", "ROUTER", "CHARGER", "TABLET PC"),
             ("APPLE", "AIRPODS", "BEATS", "SAMSUNG"), 0.15, 120.0, 0.5),
    Category("cosmetics", 0.07, (1.3, 1.0, 0.6), ("3304990000", "3304100000", "3303003000"),
             ("LIPSTICK", "MAKE UP SET", "PERFUME", "FACE CREAM", "EYESHADOW"),
             ("MAC", "CHANEL", "DIOR", "LANCOME"), 0.15, 30.0, 0.3),
    Category("jewelry", 0.04, (1.2, 1.2, 0.3), ("7117190000", "7113190000"),
             ("NECKLACE", "BRACELET", "EARRINGS", "RING"), ("TIFFANY", "PANDORA", "CARTIER"),
             0.15, 35.0, 0.1),
    Category("sunglasses", 0.03, (1.2, 1.1, 0.5), ("9004100000",),
             ("SUNGLASSES", "SUN GLASSES", "EYEWEAR"), ("RAY BAN", "RAYBAN", "OAKLEY"), 0.25,
             30.0, 0.2),
    Category("phone_cases", 0.06, (1.2, 1.3, 0.6), ("3926909990", "4202990000"),
             ("PHONE CASE", "MOBILE COVER", "SILICONE CASE"), ("OTTERBOX",), 0.05, 12.0, 0.1),
    Category("toys", 0.07, (0.8, 0.8, 2.0), ("9503000090", "9503000073"),
             ("TOY", "PLUSH TOY", "BUILDING BLOCKS", "DOLL"), ("LEGO", "POKEMON"), 0.08, 35.0, 0.8),
    Category("furniture", 0.04, (0.1, 0.0, 4.0), ("9403600000", "9401610000"),
             ("WOODEN TABLE", "CHAIR", "CABINET", "SOFA"), (), 0.0, 1800.0, 40.0),
    Category("machinery_parts", 0.05, (0.4, 0.1, 3.0), ("8481809000", "8483109000"),
             ("VALVE", "BEARING", "SHAFT", "PUMP PARTS"), (), 0.0, 2500.0, 15.0),
    Category("vague", 0.04, (1.3, 1.5, 0.1), ("9999999999", "6307909891"),
             VAGUE_WORDS, (), 0.0, 20.0, 0.3),
)

SHIPPER_WORDS = ("XINDA", "HUAXIA", "GOLDEN", "BRIGHT", "SUNRISE", "EVERGREEN", "JIAHE", "FORTUNE",
                 "LONGMA", "TIANYU", "PACIFIC", "ORIENT", "GREATWALL", "HONGFA", "YIWU", "ZHONGDA")
SHIPPER_SUFFIX = ("TRADING CO LTD", "INDUSTRIAL CO", "E-COMMERCE LTD", "IMPORT EXPORT CO",
                  "LOGISTICS LTD", "MANUFACTURING CO")
