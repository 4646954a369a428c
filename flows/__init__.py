"""Prefect flows of coop_pipeline (installed as the package `coop_flows`)."""
