"""The Streamlit side of the studio: state, cached models, the shared sidebar.

Only pages and this package import streamlit; the explainers library never does.
"""
