"""The grading engine: phrasebook rules (YAML) in, DESIGN.md reports out. Pure: no I/O but loading."""

from .engine import LiveGrader, grade
from .examples import run_example
from .loader import Phrasebook, Rule, load_phrasebook
from .operators import OPERATORS, operator
from .scoring import rescore

__all__ = ["LiveGrader", "OPERATORS", "Phrasebook", "Rule", "grade", "load_phrasebook", "operator",
           "rescore", "run_example"]
