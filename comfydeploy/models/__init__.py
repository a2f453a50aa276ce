"""All models, re-exported so Alembic and services import them from one place."""
from .api_key import ApiKey, AuthRequest
from .deployment import ENVIRONMENTS, Deployment
from .file import File
from .idempotency import IdempotencyKey
from .machine import MACHINE_GPUS, MACHINE_STATUSES, MACHINE_TYPES, Machine
from .run_event import EVENT_TYPES, RunEvent
from .run import RUN_ORIGINS, RUN_STATUSES, STATUS_RANK, TERMINAL_STATUSES, Run, RunLog, RunOutput
from .user import Membership, Organisation, User
from .volume_model import VolumeModel
from .webhook import WEBHOOK_EVENTS, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .workflow import Workflow, WorkflowVersion

__all__ = [
    "EVENT_TYPES", "IdempotencyKey", "RunEvent", "WEBHOOK_EVENTS", "WebhookAttempt", "WebhookDelivery",
    "WebhookEndpoint",
    "ApiKey", "AuthRequest", "Deployment", "ENVIRONMENTS", "File", "MACHINE_GPUS", "MACHINE_STATUSES",
    "MACHINE_TYPES", "Machine", "Membership", "Organisation", "RUN_ORIGINS", "RUN_STATUSES", "Run", "RunLog",
    "RunOutput", "STATUS_RANK", "TERMINAL_STATUSES", "User", "VolumeModel", "Workflow", "WorkflowVersion",
]
