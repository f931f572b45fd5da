"""payments — payment channels: adapters, routing, payment records, the sandbox gateway.

See ``README.md`` in this package; the channel interface is ``tongka.payments.channel``.
"""
