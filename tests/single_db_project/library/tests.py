"""An ordinary Django test suite: nothing here knows about pytest_multidb."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import TestCase, TransactionTestCase

from .models import Book, Shelf


class LibraryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.shelf = Shelf.objects.create(name="fiction")

    def test_foreign_key_and_cascade(self):
        Book.objects.create(title="Dune", shelf=self.shelf)
        self.assertEqual(list(self.shelf.books.values_list("title", flat=True)), ["Dune"])
        self.shelf.delete()
        self.assertFalse(Book.objects.exists())

    def test_many_to_many_to_the_user_model(self):
        reader = User.objects.create_user("reader")
        book = Book.objects.create(title="Emma", shelf=self.shelf)
        book.borrowers.add(reader)
        self.assertEqual(list(reader.borrowed.all()), [book])

    def test_a_failed_transaction_rolls_back(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            Shelf.objects.create(name="poetry")
            Shelf.objects.create(name="fiction")
        self.assertFalse(Shelf.objects.filter(name="poetry").exists())

    def test_on_commit_callbacks(self):
        done = []
        with self.captureOnCommitCallbacks(execute=True):
            with transaction.atomic():
                Shelf.objects.create(name="history")
                transaction.on_commit(lambda: done.append("committed"))
            self.assertEqual(done, [])
        self.assertEqual(done, ["committed"])

    def test_the_manager_uses_the_default_database(self):
        self.assertEqual(Book.objects.db, "default")
        self.assertEqual(Shelf.objects.create(name="art")._state.db, "default")


class CommitTests(TransactionTestCase):
    def test_a_real_commit(self):
        with transaction.atomic():
            Shelf.objects.create(name="committed")
        self.assertEqual(list(Shelf.objects.values_list("name", flat=True)), ["committed"])
