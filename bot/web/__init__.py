"""The dashboard's neutral logic: who a signed-in web user is (users.py), chat sign-in links (signin.py)."""
