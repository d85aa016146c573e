"""The directory-tenant step of enrollment: prove control of a directory tenant as its Global Administrator.

``base`` is what both modes return (``VerifiedTenant``) or raise (``DirectoryError`` and its family);
``entra`` is the Microsoft Entra ID mode (msal authorization-code flow, Microsoft Graph through ``graph``).
"""
