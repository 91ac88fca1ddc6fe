"""OAuth2 for third-party apps: registration (apps), the authorization server built on
authlib (server), the consent page (consent) and their routes (router)."""
