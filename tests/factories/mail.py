import factory

from portal.mail.models import OutboxEmail


class OutboxEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEmail

    to = factory.Sequence(lambda n: f"recipient{n}@example.com")
    from_email = "Portal <no-reply@portal.test>"
    subject = factory.Sequence(lambda n: f"Subject {n}")
    body_text = "Hello\n"
    body_html = "<p>Hello</p>"
    language = "en"
    template = "test_message"
