"""Multi-view synthesis from one image: the canonical content bank and the synthesiser (paper Section 5)."""

from mvaug.multiview.bank import ContentBank, build_bank_from_cameras, build_bank_from_exemplars
from mvaug.multiview.synthesizer import MultiViewSynthesizer
from mvaug.multiview.views import View, parse_views

__all__ = ["ContentBank", "MultiViewSynthesizer", "View", "build_bank_from_cameras", "build_bank_from_exemplars", "parse_views"]
