"""ScoutFlow GitOps: the promotion bot and the checks that guard the GitOps repository."""

__version__ = "0.1.0"
