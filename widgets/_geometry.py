"""Sizes shared by the drawing and the layout (scene units; a node's position is its centre)."""

NODE_WIDTH = 184.0
NODE_HEIGHT = 76.0
HORIZONTAL_SPACING = NODE_WIDTH + 56.0  # centre to centre within a layer
VERTICAL_SPACING = NODE_HEIGHT + 84.0  # centre to centre between layers
COMPONENT_GAP = 120.0  # between disconnected parts placed side by side
MIN_GAP = 16.0  # the least free space kept between two nodes


def overlaps(a: tuple[float, float], b: tuple[float, float], *, gap: float = 0.0) -> bool:
    """Whether nodes centred at `a` and `b` overlap (or come closer than `gap`)."""
    return abs(a[0] - b[0]) < NODE_WIDTH + gap and abs(a[1] - b[1]) < NODE_HEIGHT + gap
