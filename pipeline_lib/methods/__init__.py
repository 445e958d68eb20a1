"""Data-mixing methods.

``METHODS`` maps a config key (also the output directory name) to the policy its final run trains with;
a policy with a ``fit_name`` reads the proportions an offline step fitted. ``SELECTED`` methods have no
run of their own: they pick one of the pilot runs.
"""

from pipeline_lib.methods.aioli import Aioli, AioliDiagonal, AioliStatic
from pipeline_lib.methods.base import MixturePolicy
from pipeline_lib.methods.dml import Dml
from pipeline_lib.methods.doge import Doge, DogeProxy
from pipeline_lib.methods.doremi import Doremi, DoremiProxy
from pipeline_lib.methods.skillit import SkillIt
from pipeline_lib.methods.static import Static, Stratified

METHODS: dict[str, type[MixturePolicy]] = {
    "stratified": Stratified,
    "static": Static,
    "dml": Dml,
    "aioli": Aioli,
    "aioli_static": AioliStatic,
    "aioli_diagonal": AioliDiagonal,
    "skillit": SkillIt,
    "doremi": Doremi,
    "doge": Doge,
}
# Every policy the train step can run: the user-facing methods plus the proxies of DoReMi and DoGE, which
# are pilots (results/<setting>/pilots/<method>/) rather than methods of their own.
POLICIES: dict[str, type[MixturePolicy]] = {**METHODS, "doremi_proxy": DoremiProxy, "doge_proxy": DogeProxy}
SELECTED: frozenset[str] = frozenset({"grid_search"})
ALL_METHODS: frozenset[str] = frozenset(METHODS) | SELECTED


def fit_name(method: str) -> str | None:
    """The fit file a method's final run reads, or None."""
    policy = METHODS.get(method)
    return policy.fit_name if policy is not None else None


__all__ = ["ALL_METHODS", "METHODS", "POLICIES", "SELECTED", "MixturePolicy", "fit_name"]
