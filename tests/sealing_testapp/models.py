"""A model holding a sealed value, installed only in the test settings."""

from django.db import models

from opsconductor.sealing import SealedField


class Vault(models.Model):
    name = models.CharField(max_length=50)
    secret = SealedField(blank=True)

    class Meta:
        app_label = "sealing_testapp"
