"""The CDK app of the media pipeline: one construct per concern, composed in `infra/stack.py`."""
