from django import template

from customers import permissions

register = template.Library()


@register.filter
def customers_can(user, action: str) -> bool:
    """`{% if user|customers_can:"import" %}`: the same rule as the views, from the groups cached on the user."""
    return permissions.can(user, action)
