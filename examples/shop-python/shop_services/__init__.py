"""The angzarr shop example as Python gRPC services.

Each component is one service of the angzarr wire contract
(`proto/angzarr/business.proto`), run with `python3 -m shop_services
COMPONENT`; see `server.py` for the components and README.md for the rest.
"""
