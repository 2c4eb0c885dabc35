"""The dashboard: the pipeline's figures within the viewer's scope, and the yearly certification targets."""
