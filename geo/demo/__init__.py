"""Deterministic demo borough with planted truth: generate, render raw extracts, load."""

from geo.demo.extracts import raw_extracts
from geo.demo.generate import Borough, generate_borough
from geo.demo.load import demo_truth, load_borough, load_demo

__all__ = ["Borough", "demo_truth", "generate_borough", "load_borough", "load_demo", "raw_extracts"]
