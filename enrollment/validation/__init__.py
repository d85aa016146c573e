"""The rules the enrollment's organization-details step applies, each built on a maintained library:

- ``address``: per-country address rules (Japan's prefectures and postal codes, the United States' states
  and ZIP codes, from django-localflavor; a generic rule for every other country);
- ``phone``: phone numbers per country (phonenumbers), stored in E.164 and shown in national format;
- ``email_domains``: the primary contact's work email is on no free-mail or disposable domain (maintained
  package lists plus the list program staff keep in the review site).

Each rule raises Django's ``ValidationError`` with translated messages and codes; the rules that check
several fields raise it keyed by field name, so that a form shows each message next to its field.
"""
