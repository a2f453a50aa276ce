"""All models, re-exported so Alembic and services import them from one place."""
from .api_key import ApiKey, AuthRequest
from .deployment import ENVIRONMENTS, Deployment
from .file import File
from .machine import MACHINE_GPUS, MACHINE_STATUSES, MACHINE_TYPES, Machine
from .run import RUN_ORIGINS, RUN_STATUSES, STATUS_RANK, TERMINAL_STATUSES, Run, RunLog, RunOutput
from .user import Membership, Organisation, User
from .volume_model import VolumeModel
from .workflow import Workflow, WorkflowVersion

__all__ = [
    "ApiKey", "AuthRequest", "Deployment", "ENVIRONMENTS", "File", "MACHINE_GPUS", "MACHINE_STATUSES",
    "MACHINE_TYPES", "Machine", "Membership", "Organisation", "RUN_ORIGINS", "RUN_STATUSES", "Run", "RunLog",
    "RunOutput", "STATUS_RANK", "TERMINAL_STATUSES", "User", "VolumeModel", "Workflow", "WorkflowVersion",
]
