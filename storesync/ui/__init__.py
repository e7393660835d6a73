"""The Reflex web app: pages compose views, states call services, components are reusable."""
