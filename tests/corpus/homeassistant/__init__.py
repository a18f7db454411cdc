"""Home Assistant recorder schema -- https://github.com/home-assistant/core -- Apache-2.0."""
