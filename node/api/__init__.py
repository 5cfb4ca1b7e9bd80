"""The node's HTTP surface for its operator: the control API and its routes (``control``),
the facade it is given instead of the runtime (``facade``), the HTTP plumbing shared with
the devnet ledger (``http_api``), bearer tokens (``tokens``), the OpenAPI descriptions
(``openapi``), the dashboard page (``dashboard``, with its vendored charting library in
``static/``) and the Prometheus metrics (``metrics``).

Invariant: nothing here imports ``node.runtime`` or the group's services; the runtime
builds the app and hands it a ``NodeFacade``.
"""
