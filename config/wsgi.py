import os

from django.core.wsgi import get_wsgi_application

from config.env import refuse_dev_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
refuse_dev_secret_key()
