"""Data-mixing methods.

``METHODS`` maps a config key (also the output directory name) to the policy its final run trains with;
a policy with a ``fit_name`` reads the proportions an offline step fitted. ``SELECTED`` methods need no run
of their own in an unrestricted setting: they pick one of the full-length pilot runs. ``aioli+<X>`` (the
restricted setting) is Aioli after baseline X's policy for a prefix.
"""

from pipeline_lib.config import AIOLI_PLUS, RestrictedConfig
from pipeline_lib.methods.aioli import Aioli, AioliDiagonal, AioliPlus, AioliStatic
from pipeline_lib.methods.base import MixturePolicy
from pipeline_lib.methods.dml import Dml
from pipeline_lib.methods.doge import Doge, DogeProxy
from pipeline_lib.methods.doremi import Doremi, DoremiProxy
from pipeline_lib.methods.grid_search import GridSearch
from pipeline_lib.methods.skillit import SkillIt
from pipeline_lib.methods.static import Static, Stratified

METHODS: dict[str, type[MixturePolicy]] = {
    "stratified": Stratified,
    "static": Static,
    "grid_search": GridSearch,
    "dml": Dml,
    "aioli": Aioli,
    "aioli_static": AioliStatic,
    "aioli_diagonal": AioliDiagonal,
    "skillit": SkillIt,
    "doremi": Doremi,
    "doge": Doge,
    **{AIOLI_PLUS + x: AioliPlus for x in RestrictedConfig.methods},
}
# Every policy the train step can run: the methods plus the proxies of DoReMi and DoGE, which are pilots
# (results/<setting>/pilots/<method>/) rather than methods of their own.
POLICIES: dict[str, type[MixturePolicy]] = {**METHODS, "doremi_proxy": DoremiProxy, "doge_proxy": DogeProxy}
SELECTED: frozenset[str] = frozenset({"grid_search"})
# What run.methods may name (Aioli + X runs only in restricted settings).
ALL_METHODS: frozenset[str] = frozenset(m for m in METHODS if not m.startswith(AIOLI_PLUS))


def fit_name(method: str) -> str | None:
    """The fit file a method's final run reads (Aioli + X: X's), or None."""
    method = method.removeprefix(AIOLI_PLUS)
    policy = METHODS.get(method)
    return policy.fit_name if policy is not None else None


__all__ = ["ALL_METHODS", "METHODS", "POLICIES", "SELECTED", "MixturePolicy", "fit_name"]
