"""Duplicate rules and link suggestions over plain data (no I/O)."""

from __future__ import annotations

from lb_customers.duplicates import (
    Debtor,
    country_code,
    debtor_from_ledger,
    find_duplicates,
    group_id,
    link_suggestions,
    normalise_place,
)


def _by_rule(debtors: list[Debtor]) -> dict[str, list[tuple[int, ...]]]:
    groups: dict[str, list[tuple[int, ...]]] = {}
    for g in find_duplicates(debtors):
        groups.setdefault(g.rule, []).append(g.customer_numbers)
    return groups


def test_ledger_customer_is_normalised_from_camel_case():
    debtor = debtor_from_ledger(
        {
            "customerNumber": 7,
            "name": "Tøj & Co ApS",
            "email": " Info@Tojogco.DK; bogholderi@tojogco.dk",
            "telephoneAndFaxNumber": "12 34 56 78",
            "mobilePhone": "+45 87654321",
            "corporateIdentificationNumber": "DK 12 34 56 74",
            "ean": "579 0000 000005",
            "address": "Vestergade 1.",
            "zip": "8000",
            "city": "Aarhus  C",
            "country": "Danmark",
            "barred": True,
        }
    )
    assert debtor.customer_number == 7
    assert debtor.emails == ("info@tojogco.dk", "bogholderi@tojogco.dk")
    assert debtor.phones == ("+4512345678", "+4587654321")
    assert debtor.cvr == "12345674"
    assert debtor.ean == "5790000000005"
    assert (debtor.address, debtor.city) == ("vestergade 1", "aarhus c")
    assert debtor.barred


def test_phone_without_prefix_is_read_in_the_customers_country():
    swede = debtor_from_ledger(
        {"customer_number": 1, "name": "S", "telephone_and_fax_number": "070-123 45 67",
         "country": "Sverige"}
    )  # fmt: skip
    assert swede.phones == ("+46701234567",)
    assert country_code(None, "DK") == "DK"
    assert country_code("no", "DK") == "NO"
    assert country_code("Atlantis", "SE") == "SE"


def test_same_cvr_with_and_without_country_prefix():
    a = debtor_from_ledger({"customer_number": 1, "name": "A", "vat_number": None,
                            "corporate_identification_number": "DK12345674"})  # fmt: skip
    b = debtor_from_ledger(
        {"customer_number": 2, "name": "B", "corporate_identification_number": "12 34 56 74"}
    )
    c = Debtor(3, "C", cvr="87654321")
    assert _by_rule([a, b, c]) == {"cvr": [(1, 2)]}


def test_ean_locations_under_one_cvr_are_not_duplicates():
    # A municipality: one CVR, a school and a library with their own EAN numbers.
    school = Debtor(1, "Skolen", cvr="12345674", ean="5790000000005")
    library = Debtor(2, "Biblioteket", cvr="12345674", ean="5798000363007")
    school_again = Debtor(3, "Skolen (old)", cvr="12345674", ean="5790000000005")
    office = Debtor(4, "Rådhuset", cvr="12345674")
    office_again = Debtor(5, "Raadhuset", cvr="12345674")
    groups = find_duplicates([school, library, school_again, office, office_again])
    assert [(g.rule, g.customer_numbers) for g in groups] == [("cvr", (4, 5)), ("cvr", (1, 3))]
    assert "no EAN number" in groups[0].evidence
    assert "the same EAN number 5790000000005" in groups[1].evidence
    # A link on the CVR is not "also found" on the other locations.
    links = [("cvr:12345674", 4), ("ean:5790000000005", 1)]
    found = link_suggestions(links, [school, library, school_again, office, office_again])
    assert [(s.match_key, s.also_found_on) for s in found] == [
        ("cvr:12345674", (5,)),
        ("ean:5790000000005", (3,)),
    ]


def test_same_email_in_different_case_and_among_several_addresses():
    debtors = [
        debtor_from_ledger({"customer_number": 10, "name": "Anna", "email": "ANNA@Example.dk"}),
        debtor_from_ledger({"customer_number": 11, "name": "A. H.", "email": "anna@example.dk"}),
        debtor_from_ledger(
            {"customer_number": 12, "name": "Firma", "email": "x@firma.dk; anna@example.dk"}
        ),
        debtor_from_ledger({"customer_number": 13, "name": "Other", "email": "bo@example.dk"}),
    ]
    [group] = find_duplicates(debtors)
    assert group.rule == "email" and group.customer_numbers == (10, 11, 12)
    assert "anna@example.dk" in group.evidence and "10, 11, 12" in group.evidence


def test_same_phone_in_different_formats():
    spellings = ["12 34 56 78", "+45 12345678", "004512345678", "+4512345678"]
    debtors = [
        debtor_from_ledger({"customer_number": n, "name": f"P{n}", "telephoneAndFaxNumber": p})
        for n, p in enumerate(spellings, start=1)
    ]
    debtors.append(
        debtor_from_ledger({"customer_number": 9, "name": "M", "mobilePhone": "12345678"})
    )
    assert _by_rule(debtors) == {"phone": [(1, 2, 3, 4, 9)]}


def test_similar_names_only_count_at_the_same_address():
    debtors = [
        Debtor(1, "Karen Jensen", address="vestergade 1", zip="8000", city="aarhus c"),
        Debtor(2, "KAREN  JENSEN ", address="vestergade 1", zip="8000", city="aarhus c"),
        Debtor(3, "Karen Jensn", address="vestergade 1", zip="8000", city="aarhus c"),
        Debtor(4, "Peter Hansen", address="vestergade 1", zip="8000", city="aarhus c"),
        Debtor(5, "Karen Jensen", address="nørregade 2", zip="8000", city="aarhus c"),
        Debtor(6, "Karen Jensen", address=None),
    ]
    [group] = find_duplicates(debtors)
    assert group.rule == "name_address" and group.customer_numbers == (1, 2, 3)
    assert "vestergade 1, 8000, aarhus c" in group.evidence
    assert "% alike" in group.evidence


def test_names_below_the_threshold_are_not_grouped():
    debtors = [
        Debtor(1, "Jensen ApS", address="a 1", zip="1", city="x"),
        Debtor(2, "Hansen ApS", address="a 1", zip="1", city="x"),
    ]
    assert find_duplicates(debtors) == []
    assert find_duplicates(debtors, name_similarity=0.7) != []


def test_group_ids_are_stable_and_differ_per_rule():
    assert group_id("email", [3, 1, 2]) == group_id("email", (1, 2, 3))
    assert group_id("email", [1, 2]) != group_id("phone", [1, 2])
    once = find_duplicates([Debtor(2, "B", cvr="12345674"), Debtor(1, "A", cvr="12345674")])
    again = find_duplicates([Debtor(1, "A", cvr="12345674"), Debtor(2, "B", cvr="12345674")])
    assert once == again


def test_a_customer_can_be_in_several_groups():
    debtors = [
        Debtor(1, "A", emails=("a@x.dk",), phones=("+4512345678",)),
        Debtor(2, "B", emails=("a@x.dk",), phones=("+4512345678",)),
    ]
    assert _by_rule(debtors) == {"email": [(1, 2)], "phone": [(1, 2)]}


def test_normalise_place():
    assert normalise_place(" Vestergade  1, st. ") == "vestergade 1 st"
    assert normalise_place("  ") is None
    assert normalise_place(None) is None


def test_link_suggestions_name_other_customers_with_the_links_value():
    debtors = [
        Debtor(1, "A", emails=("anna@example.dk",)),
        Debtor(2, "B", emails=("anna@example.dk",)),
        Debtor(3, "C", cvr="12345674"),
        Debtor(4, "D", cvr="12345674"),
        Debtor(5, "E", emails=("solo@example.dk",)),
    ]
    links = [
        ("email:anna@example.dk", 1),
        ("cvr:DK12345674", 3),
        ("email:solo@example.dk", 5),
        ("shop-customer:42", 1),
    ]
    found = link_suggestions(links, debtors)
    assert [(s.match_key, s.linked_to, s.also_found_on) for s in found] == [
        ("cvr:DK12345674", 3, (4,)),
        ("email:anna@example.dk", 1, (2,)),
    ]
    # Once 2 is merged into 1, there is nothing left to suggest for that link.
    after_merge = link_suggestions(links, debtors, merged={2: 1})
    assert [s.match_key for s in after_merge] == ["cvr:DK12345674"]
