"""Rules several generated scenarios share: national UDRs and port queries on the planted
patterns of the bundled world, with ids and dates given by each scenario."""
from __future__ import annotations

import datetime as dt

from targeting.generate.patterns import NETWORK_SHIPPERS, PEN_WORDS
from targeting.generate.rulefiles import RuleSpec, query, udr

BAGS = ["louis vuitton", "louis vuiton", "lv", "gucci", "guccci", "chanel", "prada",
        "michael kors", "coach", "hermes", "fendi"]
SHOES = ["nike", "jordan", "yeezy", "adidas", "addidas", "nikee"]


def repeat_list_udr(id: str, created: dt.date) -> RuleSpec:
    return udr(id, created, "Importers on the repeat-violator list",
               "Importers with repeated IPR seizures are examined on arrival.",
               {"importer_id": {"in_list": "repeat_violators"}}, {"importer_id": "IMP0000999"},
               {"importer_id": "IMP0000000"}, priorities=("repeat_violators",))


def brake_pads_udr(id: str, created: dt.date) -> RuleSpec:
    return udr(id, created, "Branded brake pads made in China",
               "Counterfeit brake pads are a safety risk (automotive parts priority).",
               {"hts_code": {"startswith": "870830"}, "country_of_origin": "CN",
                "description": {"contains_any": ["bosch", "brembo", "akebono"]}},
               {"hts_code": "8708300050", "country_of_origin": "CN", "description": "BREMBO BRAKE PADS"},
               {"hts_code": "8708300050", "country_of_origin": "DE", "description": "BREMBO BRAKE PADS"},
               priorities=("automotive_parts", "health_safety"))


def hk_watches_udr(id: str, created: dt.date) -> RuleSpec:
    return udr(id, created, "Chinese watches exported through Hong Kong",
               "Transshipment through Hong Kong hides the origin of counterfeit watches.",
               {"hts_code": {"startswith": "910"}, "country_of_origin": "CN",
                "country_of_export": "HK"},
               {"hts_code": "9102110000", "country_of_origin": "CN", "country_of_export": "HK"},
               {"hts_code": "9102110000", "country_of_origin": "CN", "country_of_export": "CN"},
               priorities=("transshipment_hk",))


# Branded sneakers from China by mail: a UDR nationally, a query at one port.
SNEAKERS = {"mode": "mail", "country_of_origin": "CN", "hts_code": {"startswith": "640"},
            "description": {"contains_any": SHOES}}
SNEAKER = {"country_of_origin": "CN", "hts_code": "6404110000", "description": "AIR JORDAN SNEAKERS"}


def mail_sneakers_udr(id: str, created: dt.date) -> RuleSpec:
    return udr(id, created, "Branded sneakers from China by mail",
               "Mail facilities kept finding counterfeit branded sneakers from China.",
               SNEAKERS, {"mode": "mail", **SNEAKER}, {"mode": "express", **SNEAKER})


def gifts_udr(id: str, created: dt.date) -> RuleSpec:
    return udr(id, created, "Vague low-value gifts by express or mail",
               "Vague descriptions at low values hide undeclared goods.",
               {"mode": ["express", "mail"], "description": {"in": ["gift", "sample", "goods"]},
                "declared_value": {"lt": 50}},
               {"mode": "mail", "description": "GIFT", "declared_value": 12},
               {"mode": "mail", "description": "GIFT", "declared_value": 400})


def handbags_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Low-value branded handbags from CN/HK by express",
                 "Express handbags naming luxury brands at a few dozen dollars are almost never "
                 "genuine.",
                 {"mode": "express", "country_of_origin": ["CN", "HK"],
                  "hts_code": {"startswith": "4202"}, "description": {"contains_any": BAGS},
                  "declared_value": {"lt": 800}},
                 {"mode": "express", "country_of_origin": "CN", "hts_code": "4202210000",
                  "description": "LOUIS VUITON HANDBAGE", "declared_value": 45},
                 {"mode": "express", "country_of_origin": "CN", "hts_code": "4202210000",
                  "description": "LADIES HANDBAG", "declared_value": 45})


def watches_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Chinese watches via Hong Kong by express or mail",
                 "Watches made in China and shipped from Hong Kong kept turning out fake.",
                 {"hts_code": {"startswith_any": ["9101", "9102"]}, "country_of_origin": "CN",
                  "country_of_export": "HK", "mode": ["express", "mail"]},
                 {"hts_code": "9102110000", "country_of_origin": "CN", "country_of_export": "HK",
                  "mode": "mail"},
                 {"hts_code": "9102110000", "country_of_origin": "CN", "country_of_export": "CN",
                  "mode": "mail"})


def pens_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Weight-loss injection pens by express",
                 "Unapproved GLP-1 pens started arriving in express parcels.",
                 {"mode": "express", "hts_code": {"startswith": "3004"},
                  "description": {"contains_any": [w.lower() for w in PEN_WORDS]}},
                 {"mode": "express", "hts_code": "3004900000", "description": "SEMAGLUTIDE PEN"},
                 {"mode": "express", "hts_code": "3004900000", "description": "VITAMINS"},
                 priorities=("health_safety",))


def network_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Perfume 'samples' from six Turkish shippers",
                 "The same six shippers send perfume samples that are counterfeit.",
                 {"shipper_id": list(NETWORK_SHIPPERS)}, {"shipper_id": NETWORK_SHIPPERS[3]},
                 {"shipper_id": "SHP000104"})


def reels_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Fishing reels",
                 "An officer bought a fake reel once; reels are examined since.",
                 {"hts_code": "9507300000"}, {"hts_code": "9507300000"}, {"hts_code": "9503000090"})


def sunglasses_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Sunglasses of any brand",
                 "Eyewear seizures elsewhere; tried here.",
                 {"hts_code": {"startswith": "9004"}}, {"hts_code": "9004100000"},
                 {"hts_code": "6109100012"})


def cargo_toys_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Toys from China by sea",
                 "Toy safety recalls in the news.",
                 {"mode": "cargo", "country_of_origin": "CN", "hts_code": {"startswith": "9503"}},
                 {"mode": "cargo", "country_of_origin": "CN", "hts_code": "9503000090"},
                 {"mode": "cargo", "country_of_origin": "DE", "hts_code": "9503000090"})


def mail_sneakers_query(id: str, port: str, created: dt.date) -> RuleSpec:
    return query(id, port, created, "Branded sneakers from China by mail",
                 "Branded sneakers in the mail from China keep turning out fake.",
                 SNEAKERS, {"mode": "mail", **SNEAKER}, {"mode": "express", **SNEAKER})
