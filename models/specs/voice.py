"""The voice model's declared candidates (sustained vowel /a/)."""
from __future__ import annotations

from models import data as D
from models import tabular as T
from models.specs.base import Candidate, ModelSpec

# The shipped voice model may only take measures whose definition pdlens implements as published
# and whose values on the real recordings of tests/fixtures/voice fall inside the UCI training
# ranges. spread1 and spread2 have no recoverable published definition (pdlens's are stand-ins that
# land below the UCI range), and pdlens's DFA lands at or below the UCI minimum: the models of
# version 1 used spread1 and are kept below only as the record of what was given up.
NOT_COMPUTABLE_WHY = {
    "spread1": "spread1 has no recoverable published definition (pdlens's stand-in is below the UCI "
               "range on real recordings)",
    "spread2": "spread2 has no recoverable published definition",
    "DFA": "pdlens's DFA falls at or below the UCI range on real recordings",
}
VOICE_NOT_COMPUTABLE = frozenset(NOT_COMPUTABLE_WHY)
VOICE_LITTLE_V1 = ("HNR", "RPDE", "DFA", "PPE")
VOICE_BRIEF_V1 = ("spread1", "PPE", "D2", "HNR", "MDVP:Shimmer")
VOICE_LITTLE = tuple(f for f in VOICE_LITTLE_V1 if f not in VOICE_NOT_COMPUTABLE)  # HNR, RPDE, PPE
VOICE_BRIEF = tuple(f for f in VOICE_BRIEF_V1 if f not in VOICE_NOT_COMPUTABLE)  # PPE, D2, HNR, shimmer


def _not_computable(features: tuple[str, ...]) -> str:
    return "input not computable as defined: " + "; ".join(NOT_COMPUTABLE_WHY[f] for f in features
                                                           if f in NOT_COMPUTABLE_WHY)



def voice_spec() -> ModelSpec:
    return ModelSpec(
        name="voice", version="2.0.0", load=D.load_uci_voice,
        log_features=frozenset({"MDVP:Shimmer", "NHR"}),
        candidates=[
            Candidate("little2009_computable_logistic", VOICE_LITTLE, T.NetConfig(hidden=0, weight_decay=0.02),
                      "Little et al. 2009's best four measures without DFA (HNR, RPDE, PPE), logistic"),
            Candidate("little2009_computable_mlp8", VOICE_LITTLE, T.NetConfig(hidden=8, weight_decay=0.02),
                      "same measures, one hidden layer of 8"),
            Candidate("pitch_noise_computable_logistic", VOICE_BRIEF, T.NetConfig(hidden=0, weight_decay=0.02),
                      "PPE, D2, HNR, local shimmer: pitch-variation, noise and nonlinear measures (no spread1)"),
            Candidate("pitch_noise_computable_mlp8", VOICE_BRIEF, T.NetConfig(hidden=8, weight_decay=0.02),
                      "same measures, one hidden layer of 8"),
            # version 1's candidates, for the record only
            Candidate("little2009_logistic", VOICE_LITTLE_V1, T.NetConfig(hidden=0, weight_decay=0.02),
                      "Little et al. 2009's best four measures (HNR, RPDE, DFA, PPE), logistic",
                      not_eligible=_not_computable(VOICE_LITTLE_V1)),
            Candidate("little2009_mlp8", VOICE_LITTLE_V1, T.NetConfig(hidden=8, weight_decay=0.02),
                      "same measures, one hidden layer of 8", not_eligible=_not_computable(VOICE_LITTLE_V1)),
            Candidate("pitch_noise_logistic", VOICE_BRIEF_V1, T.NetConfig(hidden=0, weight_decay=0.02),
                      "spread1, PPE, D2, HNR, local shimmer (shipped as version 1)",
                      not_eligible=_not_computable(VOICE_BRIEF_V1)),
            Candidate("pitch_noise_mlp8", VOICE_BRIEF_V1, T.NetConfig(hidden=8, weight_decay=0.02),
                      "same measures, one hidden layer of 8", not_eligible=_not_computable(VOICE_BRIEF_V1)),
        ],
        data_note="UCI Parkinsons (Little et al. 2007/2009), copy in models/datasets/voice/uci_parkinsons",
        split_note="5-fold StratifiedGroupKFold by subject (phon_R01_S<subject>_<take>), repeated 5 times",
    )
