"""Address matching: the gazetteer in memory, the matching ladder, duplicates across systems."""

from geo.matching.gazetteer import Gazetteer, build_gazetteer, load_gazetteer
from geo.matching.ladder import LEVELS, match_records

__all__ = ["LEVELS", "Gazetteer", "build_gazetteer", "load_gazetteer", "match_records"]
