"""Products: the commerce catalogue (DESIGN.md "Commerce: products, order lines…"). Every write of a product is
here; pages, the API, the admin and the CSV import call these. Order lines name products by SKU
(customers.services reads the catalogue through `by_sku` and the price rule through `parse_price`).
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from config.errors import Conflict, DomainError
from config.money import parse_amount
from customers import permissions
from customers.models import Product

# Product.price and OrderLine.unit_price are DecimalField(max_digits=12, decimal_places=2).
PRICE_LIMIT = Decimal("1e10")
SKU_LENGTH = Product._meta.get_field("sku").max_length
NAME_LENGTH = Product._meta.get_field("name").max_length
CATEGORY_LENGTH = Product._meta.get_field("category").max_length


def parse_price(value, *, field: str = "price") -> Decimal:
    """A price or unit price: money as config.money reads it (0 or more, at most two decimals) below PRICE_LIMIT.
    Raises DomainError naming `field`."""
    price = parse_amount(value, field=field)
    if price >= PRICE_LIMIT:
        raise DomainError(
            _("Enter a number below %(limit)s.") % {"limit": f"{PRICE_LIMIT:,.0f}"}, field=field, code="max_value"
        )
    return price


def clean_sku(value, *, field: str = "sku") -> str:
    """A SKU as typed, trimmed; DomainError naming `field` when blank, too long or holding control characters."""
    sku = str(value if value is not None else "").strip()
    if not sku:
        raise DomainError(_("Enter a SKU."), field=field, code="required")
    if len(sku) > SKU_LENGTH:
        raise DomainError(
            _("A SKU has at most %(limit)s characters.") % {"limit": SKU_LENGTH}, field=field, code="max_length"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in sku):
        raise DomainError(_("A SKU cannot hold control characters."), field=field, code="invalid")
    return sku


def _text(value, *, field: str, limit: int) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        raise DomainError(_("This field is required."), field=field, code="required")
    if len(text) > limit:
        raise DomainError(_("Use at most %(limit)s characters.") % {"limit": limit}, field=field, code="max_length")
    return text


_TEXT_LIMITS = {"name": NAME_LENGTH, "category": CATEGORY_LENGTH}


def clean_field(field: str, value):
    """A product's sku, name, category or price as the rules take it (the CSV import checks cells with it);
    DomainError naming the field."""
    if field == "sku":
        return clean_sku(value)
    if field == "price":
        return parse_price(value)
    return _text(value, field=field, limit=_TEXT_LIMITS[field])


def by_sku(skus) -> dict[str, Product]:
    """The products of these SKUs, active or not, by SKU (one query)."""
    wanted = sorted({sku for sku in skus if sku})
    if not wanted:
        return {}
    return {product.sku: product for product in Product.objects.filter(sku__in=wanted)}


@transaction.atomic
def save_product(*, by, product: Product | None = None, **fields) -> Product:
    """Create a product, or change `product`, with any of sku, name, category, price, is_active.

    Raises PermissionDenied (customers.permissions PRODUCT_WRITE) and DomainError naming the field: a blank or
    over-long sku, name or category, a price that is negative, has more than two decimals or is too large, and
    a SKU another product has (code "unique")."""
    permissions.require(by, permissions.PRODUCT_WRITE)
    product = Product.objects.select_for_update().get(pk=product.pk) if product else Product()
    for name in ("sku", "name", "category", "price"):
        if name in fields or product.pk is None:
            setattr(product, name, clean_field(name, fields.get(name)))
    if "is_active" in fields:
        product.is_active = bool(fields["is_active"])
    if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
        raise DomainError(_("A product with this SKU exists."), field="sku", code="unique")
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        # Another request took the SKU between the check and the insert.
        raise DomainError(_("A product with this SKU exists."), field="sku", code="unique") from None
    return product


@transaction.atomic
def delete_product(*, by, product: Product) -> None:
    """Delete a product nobody bought; one with order lines stays for the record (deactivate it instead).

    Raises PermissionDenied and Conflict (code "in_use")."""
    permissions.require(by, permissions.PRODUCT_WRITE)
    product = Product.objects.select_for_update().filter(pk=product.pk).first()
    if product is None:
        return
    if product.order_lines.exists():
        raise Conflict(
            _("This product was sold; set it inactive instead of deleting it."), field="is_active", code="in_use"
        )
    product.delete()
