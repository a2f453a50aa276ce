"""A simulated ComfyUI machine with the comfyui-deploy node, for demos and tests (no GPU needed)."""
from .machine import SimulatedMachine

__all__ = ["SimulatedMachine"]
